package identity

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity/internal/identitydb"
	"github.com/securevault/vault/projections/internal/pguuid"
)

// UserIDsByEmail returns the ids of at most limit users whose address is
// email, compared case-insensitively (forgot-password's lookup; the command
// then folds each user from the log and checks the address there).
func (r *Reader) UserIDsByEmail(ctx context.Context, email string, limit int) ([]string, error) {
	if limit <= 0 || limit > domain.IdentityListMaxLimit {
		return nil, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.IdentityListMaxLimit)
	}
	ids, err := r.queries.UserIDsByEmail(ctx, r.db, identitydb.UserIDsByEmailParams{Email: email, MaxRows: int32(limit)})
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "look users up by address", err)
	}
	return pguuid.Strings(ids), nil
}
