package fold

import (
	"context"

	"github.com/securevault/vault/domain"
)

// ServiceAccount folds a live service account now, from its newest
// snapshot plus the events after it; a malformed id or a deleted account
// is not found. Authentication folds it on every request with a client
// token, so a revoked credential or a disabled account is honoured at once.
func (l *Loader) ServiceAccount(ctx context.Context, accountID string) (*domain.ServiceAccount, error) {
	if !domain.IsID(accountID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "service account not found")
	}
	a, _, err := Latest(ctx, l, domain.StreamID(domain.ServiceAccountAggregate, accountID), domain.LoadServiceAccount, domain.RestoreServiceAccount)
	if err != nil {
		return nil, err
	}
	if a.Deleted() {
		return nil, domain.Errorf(domain.ENOTFOUND, "service account not found")
	}
	return a, nil
}
