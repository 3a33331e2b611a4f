package queries

import (
	"context"
	"strings"

	"github.com/securevault/vault/access"
	"github.com/securevault/vault/domain"
)

// ServiceAccounts answers reads of service accounts and their credentials
// (never a secret or its MAC). Who may see what: `admin` on
// service-accounts/<name>; a get records a refusal, a listing leaves out
// what the caller may not see. An account is folded from the log, so what
// a read shows is what authentication honours.
type ServiceAccounts struct {
	svc     *Service
	catalog StreamCatalog
}

// NewServiceAccounts returns the service-account queries over the stream
// catalog, which the listing walks.
func NewServiceAccounts(svc *Service, catalog StreamCatalog) (*ServiceAccounts, error) {
	if svc == nil || catalog == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "service account queries need a service and a stream catalog")
	}
	return &ServiceAccounts{svc: svc, catalog: catalog}, nil
}

func (q *ServiceAccounts) access() *access.Checker { return q.svc.access }

// load folds an account with the who and when of its first and last event.
func (q *ServiceAccounts) load(ctx context.Context, accountID string) (*domain.ServiceAccount, domain.ServiceAccountSummary, error) {
	if !domain.IsID(accountID) {
		return nil, domain.ServiceAccountSummary{}, domain.Errorf(domain.ENOTFOUND, "service account not found")
	}
	events, err := q.svc.fold.ReadStream(ctx, domain.StreamID(domain.ServiceAccountAggregate, accountID))
	if err != nil {
		return nil, domain.ServiceAccountSummary{}, err
	}
	a, err := domain.LoadServiceAccount(events)
	if err != nil {
		return nil, domain.ServiceAccountSummary{}, err
	}
	if a.Deleted() {
		return nil, domain.ServiceAccountSummary{}, domain.Errorf(domain.ENOTFOUND, "service account not found")
	}
	s := a.Summary()
	first, last := events[0], events[len(events)-1]
	s.CreatedAt, s.CreatedBy = first.RecordedAt, identityActor(first.Metadata)
	s.UpdatedAt, s.UpdatedBy = last.RecordedAt, identityActor(last.Metadata)
	if s.Roles == nil {
		s.Roles = []string{}
	}
	return a, s, nil
}

// authorized loads an account the caller administers; a refusal is
// recorded.
func (q *ServiceAccounts) authorized(ctx context.Context, caller domain.Caller, accountID string) (*domain.ServiceAccount, domain.ServiceAccountSummary, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return nil, domain.ServiceAccountSummary{}, err
	}
	a, s, err := q.load(ctx, accountID)
	if err != nil {
		return nil, domain.ServiceAccountSummary{}, err
	}
	if err := q.access().Authorize(ctx, caller, domain.ActionAdmin, domain.ServiceAccountResource(a.Name())); err != nil {
		return nil, domain.ServiceAccountSummary{}, err
	}
	return a, s, nil
}

// GetServiceAccount returns an account; it needs `admin` on it.
func (q *ServiceAccounts) GetServiceAccount(ctx context.Context, caller domain.Caller, accountID string) (domain.ServiceAccountSummary, error) {
	_, s, err := q.authorized(ctx, caller, accountID)
	return s, err
}

// ListCredentials returns an account's credentials; it needs `admin` on
// the account.
func (q *ServiceAccounts) ListCredentials(ctx context.Context, caller domain.Caller, accountID string) ([]domain.ClientCredentialSummary, error) {
	a, _, err := q.authorized(ctx, caller, accountID)
	if err != nil {
		return nil, err
	}
	return a.Credentials(), nil
}

// ListServiceAccounts lists the accounts the caller administers, in id
// order, filtered by a name prefix. It walks the stream catalog (bounded
// per page like the listings as of an instant), so a page may hold fewer
// items than the limit while next_cursor still leads on.
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
	after, err := domain.DecodeStreamCursor(domain.ServiceAccountAggregate, in.Cursor)
	if err != nil {
		return Page[domain.ServiceAccountSummary]{}, err
	}
	page := Page[domain.ServiceAccountSummary]{Items: []domain.ServiceAccountSummary{}}
	for range listScanPages {
		ids, err := q.catalog.StreamIDs(ctx, domain.ServiceAccountAggregate, after, limit)
		if err != nil {
			return Page[domain.ServiceAccountSummary]{}, err
		}
		for _, sid := range ids {
			after = sid
			_, s, err := q.load(ctx, strings.TrimPrefix(sid, domain.ServiceAccountAggregate+"-"))
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				continue
			}
			if err != nil {
				return Page[domain.ServiceAccountSummary]{}, err
			}
			if !strings.HasPrefix(s.Name, prefix) || !q.access().Allowed(caller, domain.ActionAdmin, domain.ServiceAccountResource(s.Name)) {
				continue
			}
			page.Items = append(page.Items, s)
			if len(page.Items) == limit {
				page.NextCursor = domain.EncodeCursor(after)
				return page, nil
			}
		}
		if len(ids) < limit {
			return page, nil
		}
	}
	page.NextCursor = domain.EncodeCursor(after)
	return page, nil
}
