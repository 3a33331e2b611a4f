// Package seal is the one place the vault seals data under per-version data
// keys: a fresh 256-bit key per (owner, version), stored wrapped outside the
// immutable log before the event that references it, AES-256-GCM with the
// owner, the version and what the value is as additional data. Deleting an
// owner's keys crypto-shreds everything ever sealed for it.
//
// Secret values and password hashes use it today; anything else that must
// never sit in the log in the clear (encrypted files) uses it too, through
// Key for data too large to seal in one piece.
package seal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// DataKeys stores one data key per (owner, version); *keys.Store satisfies
// it. Deleting a key destroys every value sealed under it.
type DataKeys interface {
	NewDataKey(ctx context.Context, ownerID string, version int64) ([]byte, error)
	DataKey(ctx context.Context, ownerID string, version int64) ([]byte, error)
	Delete(ctx context.Context, ownerID string, version int64) (bool, error)
	DeleteRetired(ctx context.Context, ownerID string, version int64) (bool, error)
	DeleteOwner(ctx context.Context, ownerID string) (int64, error)
}

// Purpose says what a sealed value is. It is part of the additional data, so
// a ciphertext of one purpose never opens as another even under the same
// key.
type Purpose string

// Purposes of sealed values.
const (
	// SecretValue keeps the label envelope.AAD has always used, so values
	// sealed before this package existed still open.
	SecretValue  Purpose = "securevault/secret-value/v1"
	PasswordHash Purpose = "securevault/password-hash/v1"
	// FileContent is the plaintext of one file version, sealed as a chunked
	// stream (package streamseal) under the version's data key.
	FileContent Purpose = "securevault/file-content/v1"
	// FileDigest is the SHA-256 of one file version's plaintext. It is
	// sealed too: a plain digest in the log would let anyone who reads
	// the log, a backup or the SIEM's copy confirm a guess of a file's
	// content, and would outlive the version's destruction.
	FileDigest Purpose = "securevault/file-digest/v1"
)

// Sealer seals, opens and shreds values under per-version data keys.
type Sealer struct {
	keys DataKeys
}

// New returns a Sealer over a data key store.
func New(keys DataKeys) (*Sealer, error) {
	if keys == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "the sealer needs a data key store")
	}
	return &Sealer{keys: keys}, nil
}

// Ref names one sealed value: what it is, whose, which version.
//
// Secret values and password hashes are sealed with Seal; file content
// and file digests with the version's key the upload already holds.
type Ref struct {
	Purpose Purpose
	OwnerID string
	Version int64
}

func (r Ref) aad() []byte { return envelope.PurposeAAD(string(r.Purpose), r.OwnerID, r.Version) }

// AAD is the additional data that binds what is sealed as r to its purpose,
// owner and version, for formats that seal with the data key themselves
// (package streamseal).
func (r Ref) AAD() []byte { return r.aad() }

// NewKey returns the data key for a new version of owner, stored before any
// event can reference it; the caller zeroes it after use. When a key for
// the version exists already, no stored event uses it yet (the owner's next
// version is still this one): either a concurrent change is sealing under
// it or an earlier attempt died between storing the key and appending.
// Adopting it is safe in both cases, since at most one append of this
// version can win and a key bound to (owner, version) never seals another
// version; refusing would leave the owner unchangeable after a crash.
func (s *Sealer) NewKey(ctx context.Context, ownerID string, version int64) ([]byte, error) {
	dk, err := s.keys.NewDataKey(ctx, ownerID, version)
	if err == nil {
		return dk, nil
	}
	if domain.ErrorCode(err) != domain.ECONFLICT {
		return nil, err
	}
	dk, err2 := s.keys.DataKey(ctx, ownerID, version)
	if err2 != nil {
		return nil, domain.WrapError(domain.ECONFLICT, "a concurrent change won; retry", errors.Join(err, err2))
	}
	return dk, nil
}

// Key returns the data key of an existing version; the caller zeroes it. A
// shredded version is ENOTFOUND.
func (s *Sealer) Key(ctx context.Context, ownerID string, version int64) ([]byte, error) {
	return s.keys.DataKey(ctx, ownerID, version)
}

// Seal encrypts plaintext as ref under a fresh data key (see NewKey).
func (s *Sealer) Seal(ctx context.Context, ref Ref, plaintext []byte) ([]byte, error) {
	dk, err := s.NewKey(ctx, ref.OwnerID, ref.Version)
	if err != nil {
		return nil, err
	}
	defer envelope.Zero(dk)
	return envelope.Seal(dk, plaintext, ref.aad())
}

// Open decrypts a value sealed as ref. A shredded key is ENOTFOUND; a value
// moved from another owner, version or purpose fails authentication.
func (s *Sealer) Open(ctx context.Context, ref Ref, sealed []byte) ([]byte, error) {
	dk, err := s.keys.DataKey(ctx, ref.OwnerID, ref.Version)
	if err != nil {
		return nil, err
	}
	defer envelope.Zero(dk)
	return envelope.Open(dk, sealed, ref.aad())
}

// Shred deletes the data keys of an owner's versions, so what was sealed
// under them can never be opened again. Call it only once the event that
// retires those versions is stored; a failure leaves key rows behind, never
// makes a retired version usable, and shredding again finishes the job.
func (s *Sealer) Shred(ctx context.Context, ownerID string, versions ...int64) error {
	return shred(ctx, s.keys.Delete, ownerID, versions)
}

// ShredRetired is Shred for the versions a rotation retired past the
// retention count, on the hot path of every such rotation: it does not
// wait for the deletes' own disk flush (keys.Store.DeleteRetired says why
// that loses nothing a decision rests on). Explicit destruction uses Shred.
func (s *Sealer) ShredRetired(ctx context.Context, ownerID string, versions ...int64) error {
	return shred(ctx, s.keys.DeleteRetired, ownerID, versions)
}

func shred(ctx context.Context, del func(context.Context, string, int64) (bool, error), ownerID string, versions []int64) error {
	var errs []error
	for _, v := range versions {
		if _, err := del(ctx, ownerID, v); err != nil {
			errs = append(errs, fmt.Errorf("delete data key of version %d: %w", v, err))
		}
	}
	return errors.Join(errs...)
}

// ShredOwner deletes every data key of an owner, whatever its versions:
// everything ever sealed for it, and keys an interrupted change left behind.
func (s *Sealer) ShredOwner(ctx context.Context, ownerID string) error {
	if _, err := s.keys.DeleteOwner(ctx, ownerID); err != nil {
		return fmt.Errorf("delete the data keys of %s: %w", ownerID, err)
	}
	return nil
}

// SealFileDigest seals the SHA-256 of a file version's plaintext under the
// version's data key dk (the key its content is sealed with), for
// FileVersionAdded.SealedSHA256.
func SealFileDigest(dk []byte, fileID string, version int64, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, domain.Errorf(domain.EINTERNAL, "a file digest is %d bytes, not %d", sha256.Size, len(digest))
	}
	return envelope.Seal(dk, digest, fileDigestRef(fileID, version).aad())
}

// FileDigest is the hex SHA-256 of a file version's plaintext, opened with
// the version's data key. A version recorded before digests were sealed
// carries its digest in the clear, and that is returned. A destroyed
// version's key is gone, and its digest with it: "" and no error. A sealed
// digest that does not open under its own version's key (moved from
// another file or version, or changed) is an error, never a digest.
func (s *Sealer) FileDigest(ctx context.Context, fileID string, v domain.FileVersion) (string, error) {
	if len(v.SealedSHA256) == 0 {
		return v.SHA256, nil
	}
	digest, err := s.Open(ctx, fileDigestRef(fileID, v.Version), v.SealedSHA256)
	switch {
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		return "", nil
	case err != nil:
		return "", fmt.Errorf("open the digest of file %s version %d: %w", fileID, v.Version, err)
	case len(digest) != sha256.Size:
		return "", domain.Errorf(domain.EINTERNAL, "the digest of file %s version %d is %d bytes", fileID, v.Version, len(digest))
	}
	return hex.EncodeToString(digest), nil
}

func fileDigestRef(fileID string, version int64) Ref {
	return Ref{Purpose: FileDigest, OwnerID: fileID, Version: version}
}
