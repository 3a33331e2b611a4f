package queries

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/securevault/vault/access"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
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
// (never a secret): now from the read model, as of a past instant folded
// from the log, as users, roles and policies are. Who may see what:
// `admin` on service-accounts/<name> (its name as it was then, decided
// with the caller's current policies); a get records a refusal, a listing
// leaves out what the caller may not see. Authentication never reads this:
// it folds the log.
type ServiceAccounts struct {
	svc     *Service
	reader  ServiceAccountReader
	catalog StreamCatalog
}

// NewServiceAccounts returns the service-account queries.
func NewServiceAccounts(svc *Service, reader ServiceAccountReader, catalog StreamCatalog) (*ServiceAccounts, error) {
	if svc == nil || reader == nil || catalog == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "service account queries need a service, a read model and the stream catalog")
	}
	return &ServiceAccounts{svc: svc, reader: reader, catalog: catalog}, nil
}

func (q *ServiceAccounts) access() *access.Checker { return q.svc.access }

func (q *ServiceAccounts) timeline() timeline {
	return timeline{svc: q.svc, catalog: q.catalog, readModel: domain.ReadModelServiceAccounts}
}

func (q *ServiceAccounts) accounts() identityKind[*domain.ServiceAccount, domain.ServiceAccountSummary] {
	return identityKind[*domain.ServiceAccount, domain.ServiceAccountSummary]{
		tl: q.timeline(), aggregate: domain.ServiceAccountAggregate,
		load: domain.LoadServiceAccount, restore: domain.RestoreServiceAccount,
		name: (*domain.ServiceAccount).Name,
		authorize: func(ctx context.Context, caller domain.Caller, a *domain.ServiceAccount) error {
			return q.adminOf(ctx, caller, a.Name())
		},
		visible: func(caller domain.Caller, a *domain.ServiceAccount) bool {
			return q.access().Allowed(caller, domain.ActionAdmin, domain.ServiceAccountResource(a.Name()))
		},
		view: q.accountView,
	}
}

// adminOf authorizes `admin` on the account; a refusal is recorded.
func (q *ServiceAccounts) adminOf(ctx context.Context, caller domain.Caller, name string) error {
	return q.access().Authorize(ctx, caller, domain.ActionAdmin, domain.ServiceAccountResource(name))
}

// GetServiceAccount returns an account; it needs `admin` on it.
func (q *ServiceAccounts) GetServiceAccount(ctx context.Context, caller domain.Caller, accountID string, at At) (Result[domain.ServiceAccountSummary], error) {
	if err := domain.ValidateID("service account id", accountID); err != nil {
		return Result[domain.ServiceAccountSummary]{}, err
	}
	return getIdentity(ctx, q.timeline(), caller, accountID, at, q.reader.GetServiceAccount,
		func(s domain.ServiceAccountSummary) error { return q.adminOf(ctx, caller, s.Name) },
		q.accounts().get)
}

// ListCredentials returns an account's credentials in name order; it needs
// `admin` on the account.
func (q *ServiceAccounts) ListCredentials(ctx context.Context, caller domain.Caller, accountID string, at At) (Result[[]domain.ClientCredentialSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[[]domain.ClientCredentialSummary]{}, err
	}
	if err := domain.ValidateID("service account id", accountID); err != nil {
		return Result[[]domain.ClientCredentialSummary]{}, err
	}
	creds, in, err := source(ctx, q.svc, caller, at, domain.ReadModelServiceAccounts,
		func(int64) ([]domain.ClientCredentialSummary, error) {
			s, err := q.reader.GetServiceAccount(ctx, accountID)
			if err != nil {
				return nil, err
			}
			if err := q.adminOf(ctx, caller, s.Name); err != nil {
				return nil, err
			}
			return q.reader.ListClientCredentials(ctx, accountID)
		},
		func(in Instant) ([]domain.ClientCredentialSummary, error) {
			f, err := q.accounts().authorizedAt(ctx, caller, accountID, in)
			if err != nil {
				return nil, err
			}
			return credentialsAsStored(f.Agg.Credentials()), nil
		})
	if err != nil {
		return Result[[]domain.ClientCredentialSummary]{}, err
	}
	return Result[[]domain.ClientCredentialSummary]{Value: creds, At: in}, nil
}

// ListServiceAccounts lists the accounts the caller administers: now in
// name order, the filter running after the page is read and the cursor
// following the last row read (a page may hold fewer items than the limit
// while next_cursor still leads on); as of an instant in id order.
func (q *ServiceAccounts) ListServiceAccounts(ctx context.Context, caller domain.Caller, in IdentityListInput, at At) (Page[domain.ServiceAccountSummary], error) {
	return listIdentities(ctx, q.timeline(), caller, in, at, domain.ServiceAccountAggregate, q.reader.ListServiceAccounts,
		func(s domain.ServiceAccountSummary) bool {
			return q.access().Allowed(caller, domain.ActionAdmin, domain.ServiceAccountResource(s.Name))
		},
		func(s domain.ServiceAccountSummary) string { return s.Name },
		q.accounts().inList)
}

// accountView is an account as the read model showed it at the instant:
// every event of the account, its credentials' included, is a change of
// it.
func (q *ServiceAccounts) accountView(ctx context.Context, f fold.Folded[*domain.ServiceAccount]) (domain.ServiceAccountSummary, error) {
	a := f.Agg
	first, last, err := createdAndChanged(ctx, q.svc, a.StreamID(), f.First, f.Last, f.Last.Version)
	if err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	s := a.Summary()
	if s.Roles == nil {
		s.Roles = []string{}
	}
	s.CreatedAt, s.CreatedBy = first.RecordedAt, identityActor(first.Metadata)
	s.UpdatedAt, s.UpdatedBy = last.RecordedAt, identityActor(last.Metadata)
	return s, nil
}

// credentialsAsStored orders credentials by name, as the read model lists
// them, with their instants at the microseconds PostgreSQL keeps, so a
// past answer reads as the present one did then.
func credentialsAsStored(creds []domain.ClientCredentialSummary) []domain.ClientCredentialSummary {
	stored := func(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }
	for i := range creds {
		c := &creds[i]
		c.CreatedAt = stored(c.CreatedAt)
		if c.RotatedAt != nil {
			t := stored(*c.RotatedAt)
			c.RotatedAt = &t
		}
		if c.ExpiresAt != nil {
			t := stored(*c.ExpiresAt)
			c.ExpiresAt = &t
		}
	}
	slices.SortFunc(creds, func(a, b domain.ClientCredentialSummary) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return creds
}
