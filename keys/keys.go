// Package keys manages the key-encryption keys that wrap per-version data
// keys (envelope encryption), and stores the wrapped data keys.
//
// Two providers wrap data keys: a local Keyring of master keys held in
// PostgreSQL under the root key ENCRYPTION_KEY, and AWS KMS. Wrapped data
// keys live in the data_keys table, outside the immutable event log, so
// deleting one destroys the secret version it protects (crypto-shredding).
//
// No function of this package logs, or puts in an error, any key material
// or plaintext.
package keys

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/securevault/vault/envelope"
)

// Provider names recorded in WrappedKey.Provider and in the data_keys table.
const (
	ProviderLocal  = "local"
	ProviderAWSKMS = "aws-kms"
)

// WrappedKey is a data key encrypted under a key-encryption key. It is safe
// to store and log the provider and key id, never the plaintext it wraps.
type WrappedKey struct {
	Provider   string
	KeyID      string
	Ciphertext []byte
}

// Provider wraps and unwraps data keys. The encryption context is bound to
// the wrapped key: unwrapping with any other context fails, so a wrapped key
// copied to another secret is useless there.
type Provider interface {
	// GenerateDataKey returns a fresh 256-bit data key and its wrapped form
	// under the current active key. The caller zeroes the plaintext after use.
	GenerateDataKey(ctx context.Context, encryptionContext map[string]string) ([]byte, WrappedKey, error)
	// Decrypt unwraps a data key.
	Decrypt(ctx context.Context, wrapped WrappedKey, encryptionContext map[string]string) ([]byte, error)
	// Rewrap re-encrypts a wrapped data key under the current active key.
	// changed is false (and wrapped is returned as is) when it already was.
	Rewrap(ctx context.Context, wrapped WrappedKey, encryptionContext map[string]string) (WrappedKey, bool, error)
}

// ErrUnwrap reports a wrapped key that could not be unwrapped: wrong
// encryption context, unknown or retired key, or modified bytes. It never
// says which, so it can be shown to nobody and logged by anybody.
var ErrUnwrap = errors.New("keys: wrapped data key failed authentication")

// ErrDataKeyNotFound reports that no data key is stored for an owner and
// version: it was never created or it was destroyed.
var ErrDataKeyNotFound = errors.New("keys: data key not found")

// Encryption context keys used by EncryptionContext.
const (
	ContextOwner   = "vault:owner"
	ContextVersion = "vault:version"
)

// EncryptionContext is the context every data key of the Store is bound to:
// the owner (secret or file id) and the version. Binding the version too
// means a wrapped key cannot even be moved between versions of one secret.
func EncryptionContext(ownerID string, version int64) map[string]string {
	return map[string]string{
		ContextOwner:   ownerID,
		ContextVersion: strconv.FormatInt(version, 10),
	}
}

// canonicalContext encodes a key id and an encryption context as
// unambiguous bytes: a label, then length-prefixed fields, the context's
// pairs sorted by key. Two different (keyID, context) inputs never encode
// alike, whatever bytes they contain.
func canonicalContext(label, keyID string, ec map[string]string) []byte {
	names := make([]string, 0, len(ec))
	for k := range ec {
		names = append(names, k)
	}
	slices.Sort(names)
	var b []byte
	b = envelope.AppendField(b, label)
	b = envelope.AppendField(b, keyID)
	b = envelope.AppendLen(b, len(names))
	for _, k := range names {
		b = envelope.AppendField(b, k)
		b = envelope.AppendField(b, ec[k])
	}
	return b
}
