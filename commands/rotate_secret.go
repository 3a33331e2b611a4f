package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// RotateSecretInput adds the next version: Value, or a server-generated value
// when Generate is set. ExpectedVersion, when set, is the current version the
// caller last saw (If-Match): the rotation happens only if it still is.
type RotateSecretInput struct {
	ID              string
	Value           []byte
	Generate        *GenerateSpec
	ExpectedVersion *int64
}

// RotateSecret needs `rotate` on secrets/<name>. Versions beyond the
// retention count are destroyed in the same append and their data keys
// deleted afterwards.
func (s *Secrets) RotateSecret(ctx context.Context, caller domain.Caller, in RotateSecretInput) (SecretResult, error) {
	value := in.Value
	defer func() { envelope.Zero(value) }()
	generated := in.Generate != nil
	switch {
	case generated && len(in.Value) > 0:
		return SecretResult{}, domain.Errorf(domain.EINVALID, "give either value or generate, not both")
	case generated:
		v, err := GenerateValue(*in.Generate)
		if err != nil {
			return SecretResult{}, err
		}
		value = v
	default:
		if err := domain.ValidateSecretValue(value); err != nil {
			return SecretResult{}, err
		}
	}

	// The secret is served from the cache when it holds it. Only the append
	// proves a cached secret current (its expected version); any other
	// answer from one (a refusal) is decided again on a fresh load.
	authorized, denied, fresh, usedCache := false, false, false, false
	attempt := func() (SecretResult, error) {
		sec, err := s.loadFrom(ctx, in.ID, fresh)
		if err != nil {
			return SecretResult{}, err
		}
		usedCache = sec.cached
		if !authorized {
			// Names never change, so a cached name authorizes as well as
			// a fresh one.
			if err := s.svc.access.Authorize(ctx, caller, domain.ActionRotate, domain.SecretResource(sec.Name())); err != nil {
				denied = true
				return SecretResult{}, err
			}
			authorized = true
		}
		if sec.Deleted() {
			return SecretResult{}, domain.Errorf(domain.EGONE, "secret %s is deleted; restore it first", sec.Name())
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != sec.CurrentVersion() {
			return SecretResult{}, domain.Errorf(domain.EPRECONDITION,
				"secret %s is at version %d, not the expected %d", sec.Name(), sec.CurrentVersion(), *in.ExpectedVersion)
		}
		version := sec.NextVersion()
		sealed, err := s.sealer.Seal(ctx, valueRef(sec.ID(), version), value)
		if err != nil {
			return SecretResult{}, err
		}
		destroyed, err := sec.AddVersion(version, sealed, s.deps.KeyProvider, generated, s.deps.KeepVersions)
		if err != nil {
			return SecretResult{}, err
		}
		w, err := s.writeRetaining(ctx, caller, sec, destroyed)
		if err != nil {
			return SecretResult{}, err
		}
		usedCache = false // proven by the append
		return s.result(ctx, sec.Secret, w)
	}
	exact := func() (SecretResult, error) {
		res, err := attempt()
		if err != nil && usedCache && !denied {
			fresh = true
			res, err = attempt()
		}
		return res, err
	}
	if in.ExpectedVersion != nil {
		res, err := exact()
		if domain.ErrorCode(err) == domain.ECONFLICT {
			// Another write reached the stream between our read and our
			// append: the version the caller expected is no longer current.
			return SecretResult{}, domain.WrapError(domain.EPRECONDITION, "the secret changed concurrently; fetch it and retry", err)
		}
		return res, err
	}
	return retryConflicts(ctx, func() (SecretResult, error) {
		res, err := exact()
		fresh = true // a conflict reloads from the log
		return res, err
	})
}
