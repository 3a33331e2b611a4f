package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// RollbackSecretInput makes a new version whose value is version
// FromVersion's. ExpectedVersion is If-Match, as for a rotation.
type RollbackSecretInput struct {
	ID              string
	FromVersion     int64
	ExpectedVersion *int64
}

// RollbackSecret copies an earlier version's value into a new version,
// server-side: the value is opened and re-sealed under the new version's
// data key here and never leaves the vault, so it needs `rotate` on
// secrets/<name>, not `reveal`. A destroyed version cannot be rolled back
// to (EGONE); retention applies as for a rotation.
func (s *Secrets) RollbackSecret(ctx context.Context, caller domain.Caller, in RollbackSecretInput) (SecretResult, error) {
	if in.FromVersion < 1 {
		return SecretResult{}, domain.Errorf(domain.EINVALID, "version must be a positive integer")
	}
	authorized := false
	attempt := func() (SecretResult, error) {
		sec, err := s.load(ctx, in.ID)
		if err != nil {
			return SecretResult{}, err
		}
		if !authorized {
			if err := s.svc.access.Authorize(ctx, caller, domain.ActionRotate, domain.SecretResource(sec.Name())); err != nil {
				return SecretResult{}, err
			}
			authorized = true
		}
		if err := expectVersion(sec.Secret, in.ExpectedVersion); err != nil {
			return SecretResult{}, err
		}
		src, err := sec.RollbackSource(in.FromVersion)
		if err != nil {
			return SecretResult{}, err
		}
		plaintext, err := s.openVersion(ctx, sec.Secret, src)
		if err != nil {
			return SecretResult{}, err
		}
		version := sec.NextVersion()
		sealed, err := s.sealer.Seal(ctx, valueRef(sec.ID(), version), plaintext)
		envelope.Zero(plaintext)
		if err != nil {
			return SecretResult{}, err
		}
		destroyed, err := sec.RollBack(src.Version, version, sealed, s.deps.KeyProvider, s.deps.KeepVersions)
		if err != nil {
			return SecretResult{}, err
		}
		w, err := s.writeRetaining(ctx, caller, sec, destroyed)
		if err != nil {
			return SecretResult{}, err
		}
		return s.result(ctx, sec.Secret, w)
	}
	return conditional(ctx, in.ExpectedVersion != nil, attempt)
}
