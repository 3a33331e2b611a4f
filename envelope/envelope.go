// Package envelope seals secret values with AES-256-GCM under a per-version
// data key. It knows nothing about where data keys come from: the keys
// package wraps and stores them.
//
// A sealed value is
//
//	format (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)
//
// The format byte is authenticated together with the caller's additional
// data, so a future format can never be confused with this one.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/securevault/vault/domain"
)

const (
	// KeySize is the size of a data key: AES-256.
	KeySize = 32
	// NonceSize is GCM's standard 96-bit nonce. Every data key seals one
	// value (or a handful), far below the 2^32 random-nonce limit.
	NonceSize = 12
	// Overhead is what Seal adds to the plaintext's length.
	Overhead = 1 + NonceSize + 16

	formatV1 byte = 1

	// aadLabel separates this encoding from any other use of the same key
	// with a different AAD layout.
	aadLabel = "securevault/secret-value/v1"
)

// ErrOpen reports a sealed value that failed authentication: wrong key,
// wrong additional data, or a modified ciphertext. It deliberately does not
// say which.
var ErrOpen = errors.New("envelope: sealed value failed authentication")

// NewDataKey returns a fresh random 256-bit data key. The caller owns it and
// should Zero it once the value is sealed or opened.
func NewDataKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "random source failed", err)
	}
	return key, nil
}

// Seal encrypts plaintext under dataKey, binding it to aad.
func Seal(dataKey, plaintext, aad []byte) ([]byte, error) {
	aead, err := newAEAD(dataKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+NonceSize, Overhead+len(plaintext))
	out[0] = formatV1
	if _, err := rand.Read(out[1 : 1+NonceSize]); err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "random source failed", err)
	}
	return aead.Seal(out, out[1:1+NonceSize], plaintext, gcmAAD(formatV1, aad)), nil
}

// Open decrypts a value produced by Seal. Any mismatch of key, aad or bytes
// yields an error wrapping ErrOpen, never a wrong plaintext.
func Open(dataKey, sealed, aad []byte) ([]byte, error) {
	aead, err := newAEAD(dataKey)
	if err != nil {
		return nil, err
	}
	if len(sealed) < Overhead {
		return nil, domain.WrapError(domain.EINTERNAL, "sealed value could not be decrypted", fmt.Errorf("%w: too short", ErrOpen))
	}
	if sealed[0] != formatV1 {
		return nil, domain.WrapError(domain.EINTERNAL, "sealed value could not be decrypted", fmt.Errorf("%w: unknown format %d", ErrOpen, sealed[0]))
	}
	nonce := sealed[1 : 1+NonceSize]
	plaintext, err := aead.Open(nil, nonce, sealed[1+NonceSize:], gcmAAD(sealed[0], aad))
	if err != nil {
		// The cipher's own error carries nothing useful; ErrOpen is the
		// whole story and leaks nothing about the key or the value.
		return nil, domain.WrapError(domain.EINTERNAL, "sealed value could not be decrypted", ErrOpen)
	}
	return plaintext, nil
}

// AAD is the additional data that binds a sealed secret value to one secret
// and one version. Every field is length-prefixed so that no two distinct
// (secretID, version) pairs encode to the same bytes: ("ab", 1) and
// ("a", ...) can never collide the way a plain concatenation could.
func AAD(secretID string, version int64) []byte { return PurposeAAD(aadLabel, secretID, version) }

// PurposeAAD is AAD for any kind of sealed value: label says what the value
// is (a secret value, a password hash), so a ciphertext of one kind never
// opens as another, with the same unambiguous encoding.
func PurposeAAD(label, ownerID string, version int64) []byte {
	b := make([]byte, 0, 4+len(label)+4+len(ownerID)+8)
	b = AppendField(b, label)
	b = AppendField(b, ownerID)
	return binary.BigEndian.AppendUint64(b, uint64(version)) //nolint:gosec // G115: two's-complement bit copy; sealed values' AAD depends on this encoding
}

// Zero overwrites a key buffer. Go may have copied the key elsewhere (the
// AES key schedule, the garbage collector), so this narrows the window in
// which key material sits in memory rather than closing it.
func Zero(b []byte) { clear(b) }

// NewAEAD is AES-256-GCM under a data key, for the formats that seal with
// it beyond one value (the chunked file stream of package streamseal).
func NewAEAD(key []byte) (cipher.AEAD, error) { return newAEAD(key) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, domain.Errorf(domain.EINTERNAL, "data key must be %d bytes", KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "cipher setup failed", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "cipher setup failed", err)
	}
	return aead, nil
}

func gcmAAD(format byte, aad []byte) []byte {
	b := make([]byte, 0, 1+len(aad))
	b = append(b, format)
	return append(b, aad...)
}

// AppendField appends s after its length as a 4-byte big-endian prefix:
// the unambiguous encoding of AAD and of key encryption contexts.
func AppendField(b []byte, s string) []byte {
	return append(AppendLen(b, len(s)), s...)
}

// AppendLen appends n as a 4-byte big-endian length prefix.
func AppendLen(b []byte, n int) []byte {
	if n < 0 || int64(n) > math.MaxUint32 {
		panic("length prefix out of range") // unreachable: request bodies are capped far below 4 GiB
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}
