package queries

import (
	"context"

	"github.com/securevault/vault/domain"
)

// GetByName is Get for a name (which may contain '/'), now or as of an
// instant. `read` on secrets/<name> is checked before the name is looked
// up, so a caller who may not read a name learns nothing of whether it
// exists: 403 either way. The name resolves to its id from the name's
// reservation in the log, which never changes.
func (q *Secrets) GetByName(ctx context.Context, caller domain.Caller, name string, at At) (Result[domain.SecretSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[domain.SecretSummary]{}, err
	}
	folded, err := domain.NormalizeSecretName(name)
	if err != nil {
		return Result[domain.SecretSummary]{}, err
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.SecretResource(folded)); err != nil {
		return Result[domain.SecretSummary]{}, err
	}
	id, err := q.svc.fold.SecretID(ctx, name)
	if err != nil {
		return Result[domain.SecretSummary]{}, err
	}
	return q.Get(ctx, caller, id, at)
}
