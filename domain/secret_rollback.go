package domain

// EventSecretRolledBack follows the SecretVersionAdded it explains: the new
// version's value is the one an earlier version held, copied server-side
// (re-sealed under the new version's data key), so rolling back needs
// `rotate` and never `reveal`.
const EventSecretRolledBack = "SecretRolledBack"

// SecretRolledBack records which earlier version a new version copies.
// It carries version numbers only, never a value.
type SecretRolledBack struct {
	Version     int64 `json:"version"`
	FromVersion int64 `json:"from_version"`
}

// RollbackSource returns the live version a rollback may copy: it must
// have been added and not destroyed, and the secret must be active.
func (s *Secret) RollbackSource(from int64) (SecretVersion, error) {
	if from < 1 {
		return SecretVersion{}, Errorf(EINVALID, "version must be a positive integer")
	}
	v, err := s.Revealable(from)
	if err != nil {
		if ErrorCode(err) == EGONE && !s.state.Deleted {
			return SecretVersion{}, Errorf(EGONE, "version %d of secret %s was destroyed and cannot be rolled back to", from, s.state.Name)
		}
		return SecretVersion{}, err
	}
	return v, nil
}

// RollBack adds version (NextVersion) holding sealed, the value of version
// from re-sealed under the new version's key, and records that it is a
// rollback. Retention applies as for AddVersion; the destroyed versions are
// returned for the caller to shred.
func (s *Secret) RollBack(from, version int64, sealed []byte, keyProvider string, keep int) ([]int64, error) {
	if _, err := s.RollbackSource(from); err != nil {
		return nil, err
	}
	destroyed, err := s.AddVersion(version, sealed, keyProvider, false, keep)
	if err != nil {
		return nil, err
	}
	if err := record(s, SecretRolledBack{Version: version, FromVersion: from}); err != nil {
		return nil, err
	}
	return destroyed, nil
}
