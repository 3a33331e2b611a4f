package queries

import (
	"context"

	"github.com/securevault/vault/access"
	"github.com/securevault/vault/domain"
)

// ServiceAccountReader is the service-account read model;
// *projections/serviceaccounts.Reader satisfies it. It never holds a secret
// or its MAC.
type ServiceAccountReader interface {
	GetServiceAccount(ctx context.Context, id string) (domain.ServiceAccountSummary, error)
	ListServiceAccounts(ctx context.Context, f domain.IdentityFilter) ([]domain.ServiceAccountSummary, error)
	ListClientCredentials(ctx context.Context, accountID string) ([]domain.ClientCredentialSummary, error)
}

// ServiceAccounts answers reads of service accounts and their credentials
// (never a secret) from the read model. Who may see what: `admin` on
// service-accounts/<name>; a get records a refusal, a listing leaves out
// what the caller may not see. Authentication never reads this: it folds
// the log.
type ServiceAccounts struct {
	svc    *Service
	reader ServiceAccountReader
}

// NewServiceAccounts returns the service-account queries.
func NewServiceAccounts(svc *Service, reader ServiceAccountReader) (*ServiceAccounts, error) {
	if svc == nil || reader == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "service account queries need a service and a read model")
	}
	return &ServiceAccounts{svc: svc, reader: reader}, nil
}

func (q *ServiceAccounts) access() *access.Checker { return q.svc.access }

// GetServiceAccount returns an account; it needs `admin` on it.
func (q *ServiceAccounts) GetServiceAccount(ctx context.Context, caller domain.Caller, accountID string) (domain.ServiceAccountSummary, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	if err := domain.ValidateID("service account id", accountID); err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	if _, err := q.svc.awaitReadModel(ctx, caller, 0, domain.ReadModelServiceAccounts); err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	s, err := q.reader.GetServiceAccount(ctx, accountID)
	if err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	if err := q.access().Authorize(ctx, caller, domain.ActionAdmin, domain.ServiceAccountResource(s.Name)); err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	return s, nil
}

// ListCredentials returns an account's credentials; it needs `admin` on
// the account.
func (q *ServiceAccounts) ListCredentials(ctx context.Context, caller domain.Caller, accountID string) ([]domain.ClientCredentialSummary, error) {
	if _, err := q.GetServiceAccount(ctx, caller, accountID); err != nil {
		return nil, err
	}
	return q.reader.ListClientCredentials(ctx, accountID)
}

// ListServiceAccounts lists the accounts the caller administers in name
// order. The filter runs after the page is read and the cursor follows the
// last row read, so a page may hold fewer items than the limit while
// next_cursor still leads on.
func (q *ServiceAccounts) ListServiceAccounts(ctx context.Context, caller domain.Caller, in IdentityListInput) (Page[domain.ServiceAccountSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	prefix, err := domain.NormalizeIdentityNamePrefix(in.Prefix)
	if err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	limit, err := pageLimit(in.Limit, domain.IdentityListMaxLimit)
	if err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	after, err := domain.DecodeIdentityNameCursor(in.Cursor)
	if err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	if _, err := q.svc.awaitReadModel(ctx, caller, 0, domain.ReadModelServiceAccounts); err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	rows, err := q.reader.ListServiceAccounts(ctx, domain.IdentityFilter{Prefix: prefix, After: after, Limit: limit})
	if err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	page := Page[domain.ServiceAccountSummary]{Items: []domain.ServiceAccountSummary{}}
	for _, s := range rows {
		if q.access().Allowed(caller, domain.ActionAdmin, domain.ServiceAccountResource(s.Name)) {
			page.Items = append(page.Items, s)
		}
	}
	if len(rows) == limit {
		page.NextCursor = domain.EncodeCursor(rows[len(rows)-1].Name)
	}
	return page, nil
}
