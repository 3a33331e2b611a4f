package keys

// MasterKeyMaterial exposes a master key to tests that play an attacker who
// kept an old key.
func (k *Keyring) MasterKeyMaterial(id string) []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]byte(nil), k.keys[id]...)
}

// DataKeyAAD exposes the additional data a local wrap is bound to.
func DataKeyAAD(keyID string, ec map[string]string) []byte {
	return canonicalContext(dataKeyLabel, keyID, ec)
}
