// Package identity is the `identity` projection: the users, roles and
// policies tables the admin endpoints list and show. It never stores a
// password or its hash, and no access decision reads it: authorization folds
// the event log, so a revoked permission cannot linger here.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity/internal/identitydb"
	"github.com/securevault/vault/projections/internal/pguuid"
)

// Name is the projection's checkpoint name.
const Name = domain.ReadModelIdentity

// Projection maintains the users, roles and policies tables.
type Projection struct {
	queries *identitydb.Queries
}

// New returns the projection.
func New() *Projection { return &Projection{queries: identitydb.New()} }

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"users", "roles", "policies"} }

// Aggregates are the only streams Apply reads (projections.Selective):
// the runner skips pages of other streams without a transaction.
func (*Projection) Aggregates() []string {
	return []string{domain.UserAggregate, domain.RoleAggregate, domain.PolicyAggregate}
}

// Apply writes each identity event of the page. Pages are mostly other
// aggregates' events, and identity changes are rare, so one statement per
// relevant event is cheaper to read than a folded batch and fast enough.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	for _, ev := range events {
		var err error
		switch ev.Aggregate() {
		case domain.UserAggregate:
			err = p.applyUser(ctx, tx, ev)
		case domain.RoleAggregate:
			err = p.applyRole(ctx, tx, ev)
		case domain.PolicyAggregate:
			err = p.applyPolicy(ctx, tx, ev)
		}
		if err != nil {
			return fmt.Errorf("apply %s at position %d: %w", ev.Type, ev.Position, err)
		}
	}
	return nil
}

// change is the who and when every row update records.
type change struct {
	id    pgtype.UUID
	at    pgtype.Timestamptz
	actor string
}

func changeOf(ev domain.RecordedEvent) (change, error) {
	id, err := parseUUID(ev.StreamID[len(ev.Aggregate())+1:])
	if err != nil {
		return change{}, err
	}
	actor := ev.Metadata.Actor
	if actor == "" {
		actor = domain.SystemActor
	}
	return change{id: id, at: pgtype.Timestamptz{Time: ev.RecordedAt, Valid: true}, actor: actor}, nil
}

func (p *Projection) applyUser(ctx context.Context, tx pgx.Tx, ev domain.RecordedEvent) error {
	c, err := changeOf(ev)
	if err != nil {
		return err
	}
	q := p.queries
	switch ev.Type {
	case domain.EventUserCreated:
		var e domain.UserCreated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		return q.InsertUser(ctx, tx, identitydb.InsertUserParams{ID: c.id, Username: e.Username, Email: e.Email, At: c.at, Actor: c.actor})
	case domain.EventUserUpdated:
		var e domain.UserUpdated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		return q.SetUserEmail(ctx, tx, identitydb.SetUserEmailParams{Email: e.Email, At: c.at, Actor: c.actor, ID: c.id})
	case domain.EventUserRolesAssigned:
		var e domain.UserRolesAssigned
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		roles, err := parseUUIDs(e.RoleIDs)
		if err != nil {
			return err
		}
		return q.SetUserRoles(ctx, tx, identitydb.SetUserRolesParams{Roles: roles, At: c.at, Actor: c.actor, ID: c.id})
	case domain.EventUserDisabled, domain.EventUserEnabled:
		return q.SetUserDisabled(ctx, tx, identitydb.SetUserDisabledParams{
			Disabled: ev.Type == domain.EventUserDisabled, At: c.at, Actor: c.actor, ID: c.id,
		})
	case domain.EventUserPasswordChanged:
		return q.TouchUser(ctx, tx, identitydb.TouchUserParams{At: c.at, Actor: c.actor, ID: c.id})
	case domain.EventUserDeleted:
		return q.DeleteUser(ctx, tx, c.id)
	}
	// Logins are not profile changes; they stay in the log and the audit.
	return nil
}

func (p *Projection) applyRole(ctx context.Context, tx pgx.Tx, ev domain.RecordedEvent) error {
	c, err := changeOf(ev)
	if err != nil {
		return err
	}
	var name, description string
	var policyIDs []string
	switch ev.Type {
	case domain.EventRoleCreated:
		var e domain.RoleCreated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		name, description, policyIDs = e.Name, e.Description, e.PolicyIDs
	case domain.EventRoleUpdated:
		var e domain.RoleUpdated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		name, description, policyIDs = e.Name, e.Description, e.PolicyIDs
	case domain.EventRoleDeleted:
		return p.queries.DeleteRole(ctx, tx, c.id)
	default:
		return nil
	}
	policies, err := parseUUIDs(policyIDs)
	if err != nil {
		return err
	}
	return p.queries.UpsertRole(ctx, tx, identitydb.UpsertRoleParams{
		ID: c.id, Name: name, Description: description, Policies: policies, At: c.at, Actor: c.actor,
	})
}

func (p *Projection) applyPolicy(ctx context.Context, tx pgx.Tx, ev domain.RecordedEvent) error {
	c, err := changeOf(ev)
	if err != nil {
		return err
	}
	var name, description string
	var statements []domain.Statement
	switch ev.Type {
	case domain.EventPolicyCreated:
		var e domain.PolicyCreated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		name, description, statements = e.Name, e.Description, e.Statements
	case domain.EventPolicyUpdated:
		var e domain.PolicyUpdated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		name, description, statements = e.Name, e.Description, e.Statements
	case domain.EventPolicyDeleted:
		return p.queries.DeletePolicy(ctx, tx, c.id)
	default:
		return nil
	}
	if statements == nil {
		statements = []domain.Statement{}
	}
	data, err := json.Marshal(statements)
	if err != nil {
		return err
	}
	return p.queries.UpsertPolicy(ctx, tx, identitydb.UpsertPolicyParams{
		ID: c.id, Name: name, Description: description, Statements: data, At: c.at, Actor: c.actor,
	})
}

// Reset implements projections.Projection.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	for _, del := range []func(context.Context, identitydb.DBTX) error{
		p.queries.DeleteAllUsers, p.queries.DeleteAllRoles, p.queries.DeleteAllPolicies,
	} {
		if err := del(ctx, tx); err != nil {
			return fmt.Errorf("clear identity read model: %w", err)
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

// User, Role and Policy are the rows as the admin endpoints show them: the
// domain's view types, never a password or hash.
type (
	User   = domain.UserSummary
	Role   = domain.RoleSummary
	Policy = domain.PolicySummary
)

func maxRows(f domain.IdentityFilter) (int32, error) {
	switch {
	case f.Limit == 0:
		return domain.DefaultListLimit, nil
	case f.Limit < 0 || f.Limit > domain.IdentityListMaxLimit:
		return 0, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.IdentityListMaxLimit)
	}
	return int32(f.Limit), nil
}

// Reader answers queries on the identity read model; it satisfies
// queries.IdentityReader.
type Reader struct {
	db      DB
	queries *identitydb.Queries
}

// NewReader returns a reader on db.
func NewReader(db DB) *Reader { return &Reader{db: db, queries: identitydb.New()} }

func notFoundOr(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Errorf(domain.ENOTFOUND, "%s not found", what)
	}
	return domain.WrapError(domain.EINTERNAL, "read "+what, err)
}

// GetUser returns one user, or an ENOTFOUND error.
func (r *Reader) GetUser(ctx context.Context, id string) (User, error) {
	uid, err := pguuid.Parse("user id", id)
	if err != nil {
		return User{}, err
	}
	row, err := r.queries.GetUser(ctx, r.db, uid)
	if err != nil {
		return User{}, notFoundOr(err, "user")
	}
	return userFromRow(row), nil
}

// ListUsers returns a page of users ordered by username.
func (r *Reader) ListUsers(ctx context.Context, f domain.IdentityFilter) ([]User, error) {
	n, err := maxRows(f)
	if err != nil {
		return nil, err
	}
	rows, err := r.queries.ListUsers(ctx, r.db, identitydb.ListUsersParams{Prefix: f.Prefix, AfterName: f.After, MaxRows: n})
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "list users", err)
	}
	out := make([]User, 0, len(rows))
	for _, row := range rows {
		out = append(out, userFromRow(row))
	}
	return out, nil
}

// GetRole returns one role, or an ENOTFOUND error.
func (r *Reader) GetRole(ctx context.Context, id string) (Role, error) {
	rid, err := pguuid.Parse("role id", id)
	if err != nil {
		return Role{}, err
	}
	row, err := r.queries.GetRole(ctx, r.db, rid)
	if err != nil {
		return Role{}, notFoundOr(err, "role")
	}
	return roleFromRow(row), nil
}

// ListRoles returns a page of roles ordered by name.
func (r *Reader) ListRoles(ctx context.Context, f domain.IdentityFilter) ([]Role, error) {
	n, err := maxRows(f)
	if err != nil {
		return nil, err
	}
	rows, err := r.queries.ListRoles(ctx, r.db, identitydb.ListRolesParams{Prefix: f.Prefix, AfterName: f.After, MaxRows: n})
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "list roles", err)
	}
	out := make([]Role, 0, len(rows))
	for _, row := range rows {
		out = append(out, roleFromRow(row))
	}
	return out, nil
}

// GetPolicy returns one policy, or an ENOTFOUND error.
func (r *Reader) GetPolicy(ctx context.Context, id string) (Policy, error) {
	pid, err := pguuid.Parse("policy id", id)
	if err != nil {
		return Policy{}, err
	}
	row, err := r.queries.GetPolicy(ctx, r.db, pid)
	if err != nil {
		return Policy{}, notFoundOr(err, "policy")
	}
	return policyFromRow(row)
}

// ListPolicies returns a page of policies ordered by name.
func (r *Reader) ListPolicies(ctx context.Context, f domain.IdentityFilter) ([]Policy, error) {
	n, err := maxRows(f)
	if err != nil {
		return nil, err
	}
	rows, err := r.queries.ListPolicies(ctx, r.db, identitydb.ListPoliciesParams{Prefix: f.Prefix, AfterName: f.After, MaxRows: n})
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "list policies", err)
	}
	out := make([]Policy, 0, len(rows))
	for _, row := range rows {
		pol, err := policyFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, pol)
	}
	return out, nil
}

func userFromRow(r identitydb.User) User {
	return User{
		ID: pguuid.String(r.ID), Username: r.Username, Email: r.Email, Roles: pguuid.Strings(r.Roles), Disabled: r.Disabled,
		CreatedAt: r.CreatedAt.Time.UTC(), CreatedBy: r.CreatedBy, UpdatedAt: r.UpdatedAt.Time.UTC(), UpdatedBy: r.UpdatedBy,
	}
}

func roleFromRow(r identitydb.Role) Role {
	return Role{
		ID: pguuid.String(r.ID), Name: r.Name, Description: r.Description, Policies: pguuid.Strings(r.Policies),
		CreatedAt: r.CreatedAt.Time.UTC(), CreatedBy: r.CreatedBy, UpdatedAt: r.UpdatedAt.Time.UTC(), UpdatedBy: r.UpdatedBy,
	}
}

func policyFromRow(r identitydb.Policy) (Policy, error) {
	var st []domain.Statement
	if err := json.Unmarshal(r.Statements, &st); err != nil {
		return Policy{}, domain.WrapError(domain.EINTERNAL, "read policy statements", err)
	}
	if st == nil {
		st = []domain.Statement{}
	}
	return Policy{
		ID: pguuid.String(r.ID), Name: r.Name, Description: r.Description, Statements: st,
		CreatedAt: r.CreatedAt.Time.UTC(), CreatedBy: r.CreatedBy, UpdatedAt: r.UpdatedAt.Time.UTC(), UpdatedBy: r.UpdatedBy,
	}, nil
}

// parseUUID reads an id recorded in an event. It is laxer than
// pguuid.Parse on purpose: events already passed their command's checks,
// and a projection must apply what the log holds rather than stall on it.
func parseUUID(s string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return pgtype.UUID{}, domain.WrapError(domain.EINVALID, "malformed id", err)
	}
	return u, nil
}

func parseUUIDs(ids []string) ([]pgtype.UUID, error) {
	out := make([]pgtype.UUID, 0, len(ids))
	for _, id := range ids {
		u, err := parseUUID(id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
