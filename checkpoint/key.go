package checkpoint

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/securevault/vault/domain"
)

// EnvKey is the variable holding the signing key: base64 of a 32-byte
// Ed25519 seed.
const EnvKey = "VAULT_CHECKPOINT_KEY"

// DevKeyFileName is the file, in the data directory, where dev mode keeps a
// generated key so checkpoints stay signed by one key across restarts.
const DevKeyFileName = "checkpoint-key"

// ParseKey decodes a base64 (standard or URL alphabet, padded or not)
// 32-byte seed.
func ParseKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if seed, err := enc.DecodeString(s); err == nil {
			if len(seed) != ed25519.SeedSize {
				break
			}
			return ed25519.NewKeyFromSeed(seed), nil
		}
	}
	return nil, domain.Errorf(domain.EINVALID, "%s must be base64 of exactly %d random bytes", EnvKey, ed25519.SeedSize)
}

// LoadKey returns the signing key from value (the content of EnvKey). When
// value is empty, production is an error naming the variable; dev mode
// reads, or generates on first use, <dataDir>/checkpoint-key.
func LoadKey(value string, production bool, dataDir string, logger *slog.Logger) (ed25519.PrivateKey, error) {
	if value != "" {
		return ParseKey(value)
	}
	if production {
		return nil, domain.Errorf(domain.EINVALID, "%s is required in production (base64 of %d random bytes)", EnvKey, ed25519.SeedSize)
	}
	path := filepath.Clean(filepath.Join(dataDir, DevKeyFileName))
	if b, err := os.ReadFile(path); err == nil {
		return ParseKey(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read dev checkpoint key %s: %w", path, err)
	}
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed) // never fails on supported platforms
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race: use its key.
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read dev checkpoint key %s: %w", path, err)
		}
		return ParseKey(string(b))
	}
	if err != nil {
		return nil, fmt.Errorf("create dev checkpoint key %s: %w", path, err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n"); err != nil {
		_ = f.Close() // the write error is the one to report
		return nil, fmt.Errorf("write dev checkpoint key %s: %w", path, err)
	}
	// A key whose file did not close may not be on disk: the next start
	// would sign with another one.
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write dev checkpoint key %s: %w", path, err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	logger.Warn("DEV MODE: generated a checkpoint signing key into a local file; set "+EnvKey+" in production",
		"file", path, "key_id", KeyID(key.Public().(ed25519.PublicKey)))
	return key, nil
}

// ParsePublicKey reads a public key given in hex or base64, as an auditor
// passes it to verify --public-key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	return nil, domain.Errorf(domain.EINVALID, "the public key must be %d bytes in hex or base64", ed25519.PublicKeySize)
}
