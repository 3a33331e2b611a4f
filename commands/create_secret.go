package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// CreateSecretInput is a new secret and its first value. Value is the
// plaintext; the handler zeroes it after sealing.
type CreateSecretInput struct {
	Name        string
	Description string
	Tags        []string
	Value       []byte
}

// CreateSecret needs `write` on secrets/<name>. The name is stored in its
// folded (lowercase) form and reserved in the same atomic append as the
// secret's first events, so a duplicate in any spelling is a conflict
// decided by the log, never by a racing read-model lookup.
//
// The one read-model lookup guards names recorded with capitals before
// names were folded: their reservations carry the old spelling, so the log
// cannot see that `prod/x` would duplicate a legacy `Prod/x`. That set of
// names never grows (no new name has capitals), so the lookup cannot race
// a concurrent create; it can only miss a legacy secret the read model has
// not applied yet, which after an upgrade it long has.
func (s *Secrets) CreateSecret(ctx context.Context, caller domain.Caller, in CreateSecretInput) (SecretResult, error) {
	defer envelope.Zero(in.Value)
	name, err := domain.NormalizeSecretName(in.Name)
	if err != nil {
		return SecretResult{}, err
	}
	if err := domain.ValidateSecretValue(in.Value); err != nil {
		return SecretResult{}, err
	}
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionWrite, domain.SecretResource(name)); err != nil {
		return SecretResult{}, err
	}
	if legacy, ok, err := s.deps.ReadModel.MixedCaseName(ctx, name); err != nil {
		return SecretResult{}, err
	} else if ok {
		return SecretResult{}, domain.Errorf(domain.ECONFLICT, "a secret named %s already exists (recorded as %s; names are case-insensitive)", name, legacy)
	}
	id := domain.NewID()
	sec, err := domain.NewSecret(id, name, in.Description, in.Tags)
	if err != nil {
		return SecretResult{}, err
	}
	version := sec.NextVersion()
	sealed, err := s.sealer.Seal(ctx, valueRef(id, version), in.Value)
	if err != nil {
		return SecretResult{}, err
	}
	if _, err := sec.AddVersion(version, sealed, s.deps.KeyProvider, false, s.deps.KeepVersions); err != nil {
		return SecretResult{}, err
	}
	md := caller.Metadata()
	w, err := s.write(ctx, caller, loadedSecret{Secret: sec}, domain.NewSecretNameReservation(name, id, md))
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			// The id is fresh, so only the name can have clashed; and no
			// event references the new key, so deleting it is safe.
			s.dropOrphanKey(ctx, id, version)
			return SecretResult{}, domain.WrapError(domain.ECONFLICT, "a secret named "+name+" already exists", err)
		}
		return SecretResult{}, err
	}
	return s.result(ctx, sec, w)
}

func (s *Secrets) dropOrphanKey(ctx context.Context, id string, version int64) {
	if err := s.sealer.Shred(context.WithoutCancel(ctx), id, version); err != nil {
		s.svc.logger.WarnContext(ctx, "could not delete an unused data key", "secret_id", id, "version", version, "error", err)
	}
}
