// Package serviceaccounts is the `serviceaccounts` projection: the service
// accounts and client credentials the admin endpoints list and show. It
// never stores a secret or its MAC, and neither authentication nor the
// token endpoint reads it: they fold the event log, so a revoked credential
// cannot linger here.
package serviceaccounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/internal/pguuid"
	"github.com/securevault/vault/projections/serviceaccounts/internal/serviceaccountsdb"
)

// Name is the projection's checkpoint name.
const Name = domain.ReadModelServiceAccounts

// Projection maintains the service_accounts and client_credentials tables.
type Projection struct {
	queries *serviceaccountsdb.Queries
}

// New returns the projection.
func New() *Projection { return &Projection{queries: serviceaccountsdb.New()} }

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"service_accounts", "client_credentials"} }

// Aggregates are the only streams Apply reads (projections.Selective):
// the runner skips pages of other streams without a transaction, so a
// rotation does not cost this projection a commit.
func (*Projection) Aggregates() []string {
	return []string{domain.ServiceAccountAggregate}
}

// Apply writes each service-account event of the page, one statement each:
// they are rare.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	for _, ev := range events {
		if ev.Aggregate() != domain.ServiceAccountAggregate {
			continue
		}
		if err := p.apply(ctx, tx, ev); err != nil {
			return fmt.Errorf("apply %s at position %d: %w", ev.Type, ev.Position, err)
		}
	}
	return nil
}

func decode[T any](ev domain.RecordedEvent) (T, error) {
	var e T
	err := json.Unmarshal(ev.Data, &e)
	return e, err
}

func timestamptz(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

func (p *Projection) apply(ctx context.Context, tx pgx.Tx, ev domain.RecordedEvent) error {
	id, err := pguuid.Parse("service account id", ev.StreamID[len(domain.ServiceAccountAggregate)+1:])
	if err != nil {
		return err
	}
	at := timestamptz(ev.RecordedAt)
	actor := ev.Metadata.Actor
	if actor == "" {
		actor = domain.SystemActor
	}
	q := p.queries
	switch ev.Type {
	case domain.EventServiceAccountCreated:
		e, err := decode[domain.ServiceAccountCreated](ev)
		if err != nil {
			return err
		}
		roles, err := pguuid.ParseAll("role id", e.RoleIDs)
		if err != nil {
			return err
		}
		return q.InsertServiceAccount(ctx, tx, serviceaccountsdb.InsertServiceAccountParams{
			ID: id, Name: e.Name, Description: e.Description, Roles: roles, At: at, Actor: actor,
		})
	case domain.EventServiceAccountUpdated:
		e, err := decode[domain.ServiceAccountUpdated](ev)
		if err != nil {
			return err
		}
		return q.SetServiceAccountDescription(ctx, tx, serviceaccountsdb.SetServiceAccountDescriptionParams{Description: e.Description, At: at, Actor: actor, ID: id})
	case domain.EventServiceAccountRolesAssigned:
		e, err := decode[domain.ServiceAccountRolesAssigned](ev)
		if err != nil {
			return err
		}
		roles, err := pguuid.ParseAll("role id", e.RoleIDs)
		if err != nil {
			return err
		}
		return q.SetServiceAccountRoles(ctx, tx, serviceaccountsdb.SetServiceAccountRolesParams{Roles: roles, At: at, Actor: actor, ID: id})
	case domain.EventServiceAccountDisabled, domain.EventServiceAccountEnabled:
		return q.SetServiceAccountDisabled(ctx, tx, serviceaccountsdb.SetServiceAccountDisabledParams{
			Disabled: ev.Type == domain.EventServiceAccountDisabled, At: at, Actor: actor, ID: id,
		})
	case domain.EventServiceAccountDeleted:
		return q.DeleteServiceAccount(ctx, tx, id) // its credentials cascade
	case domain.EventClientCredentialCreated:
		e, err := decode[domain.ClientCredentialCreated](ev)
		if err != nil {
			return err
		}
		cid, err := pguuid.Parse("credential id", e.CredentialID)
		if err != nil {
			return err
		}
		cidrs := e.AllowedCIDRs
		if cidrs == nil {
			cidrs = []string{}
		}
		if err := q.InsertClientCredential(ctx, tx, serviceaccountsdb.InsertClientCredentialParams{
			ID: cid, ServiceAccountID: id, Name: e.Name, ClientID: e.ClientID, CreatedAt: timestamptz(e.CreatedAt),
			ExpiresAt: timestamptz(e.ExpiresAt), AllowedCidrs: cidrs,
		}); err != nil {
			return err
		}
	case domain.EventClientCredentialRotated:
		e, err := decode[domain.ClientCredentialRotated](ev)
		if err != nil {
			return err
		}
		cid, err := pguuid.Parse("credential id", e.CredentialID)
		if err != nil {
			return err
		}
		if err := q.RotateClientCredential(ctx, tx, serviceaccountsdb.RotateClientCredentialParams{RotatedAt: timestamptz(e.RotatedAt), ID: cid}); err != nil {
			return err
		}
	case domain.EventClientCredentialRevoked:
		e, err := decode[domain.ClientCredentialRevoked](ev)
		if err != nil {
			return err
		}
		cid, err := pguuid.Parse("credential id", e.CredentialID)
		if err != nil {
			return err
		}
		if err := q.DeleteClientCredential(ctx, tx, cid); err != nil {
			return err
		}
	default:
		return nil
	}
	// A credential change is a change of the account.
	return q.TouchServiceAccount(ctx, tx, serviceaccountsdb.TouchServiceAccountParams{At: at, Actor: actor, ID: id})
}

// Reset implements projections.Projection.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	for _, del := range []func(context.Context, serviceaccountsdb.DBTX) error{
		p.queries.DeleteAllClientCredentials, p.queries.DeleteAllServiceAccounts,
	} {
		if err := del(ctx, tx); err != nil {
			return fmt.Errorf("clear service account read model: %w", err)
		}
	}
	return nil
}

// DB is what the queries run on: a pool, a connection or a transaction.
type DB interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Reader answers queries on the read model with the domain's view types; it
// satisfies queries.ServiceAccountReader.
type Reader struct {
	db      DB
	queries *serviceaccountsdb.Queries
}

// NewReader returns a reader on db.
func NewReader(db DB) *Reader { return &Reader{db: db, queries: serviceaccountsdb.New()} }

// GetServiceAccount returns one account, or an ENOTFOUND error.
func (r *Reader) GetServiceAccount(ctx context.Context, id string) (domain.ServiceAccountSummary, error) {
	uid, err := pguuid.Parse("service account id", id)
	if err != nil {
		return domain.ServiceAccountSummary{}, err
	}
	row, err := r.queries.GetServiceAccount(ctx, r.db, uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.ServiceAccountSummary{}, domain.Errorf(domain.ENOTFOUND, "service account not found")
	}
	if err != nil {
		return domain.ServiceAccountSummary{}, domain.WrapError(domain.EINTERNAL, "read service account", err)
	}
	return summary(serviceaccountsdb.ListServiceAccountsRow(row)), nil
}

// ListServiceAccounts returns a page of accounts in name order.
func (r *Reader) ListServiceAccounts(ctx context.Context, f domain.IdentityFilter) ([]domain.ServiceAccountSummary, error) {
	n := f.Limit
	switch {
	case n == 0:
		n = domain.DefaultListLimit
	case n < 0 || n > domain.IdentityListMaxLimit:
		return nil, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.IdentityListMaxLimit)
	}
	rows, err := r.queries.ListServiceAccounts(ctx, r.db, serviceaccountsdb.ListServiceAccountsParams{Prefix: f.Prefix, AfterName: f.After, MaxRows: int32(n)})
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "list service accounts", err)
	}
	out := make([]domain.ServiceAccountSummary, 0, len(rows))
	for _, row := range rows {
		out = append(out, summary(row))
	}
	return out, nil
}

// ListClientCredentials returns an account's credentials in name order.
func (r *Reader) ListClientCredentials(ctx context.Context, accountID string) ([]domain.ClientCredentialSummary, error) {
	uid, err := pguuid.Parse("service account id", accountID)
	if err != nil {
		return nil, err
	}
	rows, err := r.queries.ListClientCredentials(ctx, r.db, uid)
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "list client credentials", err)
	}
	out := make([]domain.ClientCredentialSummary, 0, len(rows))
	for _, c := range rows {
		s := domain.ClientCredentialSummary{
			ID: pguuid.String(c.ID), Name: c.Name, ClientID: c.ClientID, CreatedAt: c.CreatedAt.Time.UTC(), AllowedCIDRs: c.AllowedCidrs,
		}
		if s.AllowedCIDRs == nil {
			s.AllowedCIDRs = []string{}
		}
		if c.RotatedAt.Valid {
			t := c.RotatedAt.Time.UTC()
			s.RotatedAt = &t
		}
		if c.ExpiresAt.Valid {
			t := c.ExpiresAt.Time.UTC()
			s.ExpiresAt = &t
		}
		out = append(out, s)
	}
	return out, nil
}

func summary(r serviceaccountsdb.ListServiceAccountsRow) domain.ServiceAccountSummary {
	return domain.ServiceAccountSummary{
		ID: pguuid.String(r.ID), Name: r.Name, Description: r.Description, Roles: pguuid.Strings(r.Roles), Disabled: r.Disabled,
		Credentials: int(r.Credentials), CreatedAt: r.CreatedAt.Time.UTC(), CreatedBy: r.CreatedBy,
		UpdatedAt: r.UpdatedAt.Time.UTC(), UpdatedBy: r.UpdatedBy,
	}
}
