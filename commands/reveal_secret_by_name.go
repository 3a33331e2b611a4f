package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RevealSecretByName is RevealSecret for a name. The caller's `reveal` on
// secrets/<name> is checked before the name is looked up, so a caller who
// may not reveal a name learns nothing of whether it exists (403 either
// way); the reveal itself then runs, and is audited, as RevealSecret.
func (s *Secrets) RevealSecretByName(ctx context.Context, caller domain.Caller, name string, version int64) (RevealedSecret, Written, error) {
	folded, err := domain.NormalizeSecretName(name)
	if err != nil {
		return RevealedSecret{}, Written{}, err
	}
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionReveal, domain.SecretResource(folded)); err != nil {
		return RevealedSecret{}, Written{}, err
	}
	id, err := s.svc.fold.SecretID(ctx, name)
	if err != nil {
		return RevealedSecret{}, Written{}, err
	}
	return s.RevealSecret(ctx, caller, id, version)
}
