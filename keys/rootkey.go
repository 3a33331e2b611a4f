package keys

import (
	"encoding/base64"
	"strings"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// EnvEncryptionKey is the environment variable holding the root key.
const EnvEncryptionKey = "ENCRYPTION_KEY"

// minDistinctBytes rejects keys typed by a human or derived from a pattern.
// 32 uniformly random bytes have about 30 distinct values; fewer than 16
// happens with a probability far below 2^-60.
const minDistinctBytes = 16

// ParseRootKey decodes ENCRYPTION_KEY: standard base64 (padded or not) of
// exactly 32 bytes that look random. Errors name the variable and never
// echo its value.
func ParseRootKey(value string) ([]byte, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, domain.Errorf(domain.EINVALID, "%s is not set: it must be the base64 encoding of 32 random bytes (for example: openssl rand -base64 32)", EnvEncryptionKey)
	}
	key, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(value)
	}
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s is not valid standard base64", EnvEncryptionKey)
	}
	if len(key) != envelope.KeySize {
		n := len(key)
		envelope.Zero(key)
		return nil, domain.Errorf(domain.EINVALID, "%s must decode to exactly %d bytes, got %d", EnvEncryptionKey, envelope.KeySize, n)
	}
	var seen [256]bool
	distinct := 0
	for _, c := range key {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
	}
	if distinct < minDistinctBytes {
		envelope.Zero(key)
		return nil, domain.Errorf(domain.EINVALID, "%s is weak (too few distinct bytes): generate it with a cryptographic random source", EnvEncryptionKey)
	}
	return key, nil
}
