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

// CreateSecret needs `write` on secrets/<name>. The name is reserved in the
// same atomic append as the secret's first events, so a duplicate is a
// conflict decided by the log, never by a racing read-model lookup.
func (s *Secrets) CreateSecret(ctx context.Context, caller Caller, in CreateSecretInput) (SecretResult, error) {
	defer envelope.Zero(in.Value)
	if err := domain.ValidateSecretName(in.Name); err != nil {
		return SecretResult{}, err
	}
	if err := domain.ValidateSecretValue(in.Value); err != nil {
		return SecretResult{}, err
	}
	if err := s.svc.authorize(ctx, caller, domain.ActionWrite, domain.SecretResource(in.Name)); err != nil {
		return SecretResult{}, err
	}
	id := domain.NewID()
	sec, err := domain.NewSecret(id, in.Name, in.Description, in.Tags)
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
	w, err := s.write(ctx, caller, loadedSecret{Secret: sec}, domain.NewSecretNameReservation(in.Name, id, md))
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			// The id is fresh, so only the name can have clashed; and no
			// event references the new key, so deleting it is safe.
			s.dropOrphanKey(ctx, id, version)
			return SecretResult{}, domain.WrapError(domain.ECONFLICT, "a secret named "+in.Name+" already exists", err)
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
