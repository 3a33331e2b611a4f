package queries

import (
	"context"

	"github.com/securevault/vault/domain"
)

// IdentityReader is the identity read model; *projections/identity.Reader
// satisfies it. It never holds a password or its hash.
type IdentityReader interface {
	GetUser(ctx context.Context, id string) (domain.UserSummary, error)
	ListUsers(ctx context.Context, f domain.IdentityFilter) ([]domain.UserSummary, error)
	GetRole(ctx context.Context, id string) (domain.RoleSummary, error)
	ListRoles(ctx context.Context, f domain.IdentityFilter) ([]domain.RoleSummary, error)
	GetPolicy(ctx context.Context, id string) (domain.PolicySummary, error)
	ListPolicies(ctx context.Context, f domain.IdentityFilter) ([]domain.PolicySummary, error)
}

// Identity answers reads of users, roles and policies, now or as of an
// instant, and the access checks of authz/check.
//
// Who may see what: a user may read itself; anyone else needs `admin` on
// users/<username>, roles/<name> or policies/<name>. Gets record a refusal;
// listings leave out what the caller may not see without recording it.
type Identity struct {
	svc     *Service
	reader  IdentityReader
	catalog StreamCatalog
}

// NewIdentity returns the identity queries. Without a catalog, listings as
// of an instant answer EUNAVAILABLE.
func NewIdentity(svc *Service, reader IdentityReader, catalog StreamCatalog) (*Identity, error) {
	if svc == nil || reader == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "identity queries need a service and a read model")
	}
	return &Identity{svc: svc, reader: reader, catalog: catalog}, nil
}

// IdentityListInput filters a listing of users, roles or policies: Prefix
// on the name (as it was then, for a listing as of an instant), Cursor the
// opaque NextCursor of the previous page of the same kind of listing.
type IdentityListInput struct {
	Prefix string
	Cursor string
	Limit  int
}

// GetUser returns a user; the user itself may read it.
func (q *Identity) GetUser(ctx context.Context, caller domain.Caller, id string, at At) (Result[domain.UserSummary], error) {
	return getIdentity(ctx, q.timeline(), caller, id, at, q.reader.GetUser,
		func(u domain.UserSummary) error { return q.mayReadUser(ctx, caller, u.ID, u.Username) },
		q.users().get)
}

// ListUsers lists the users the caller may administer, and itself.
func (q *Identity) ListUsers(ctx context.Context, caller domain.Caller, in IdentityListInput, at At) (Page[domain.UserSummary], error) {
	return listIdentities(ctx, q.timeline(), caller, in, at, domain.UserAggregate, q.reader.ListUsers,
		func(u domain.UserSummary) bool { return q.maySeeUser(caller, u.ID, u.Username) },
		func(u domain.UserSummary) string { return u.Username },
		q.users().inList)
}

// GetRole returns a role; it needs `admin` on roles/<name>.
func (q *Identity) GetRole(ctx context.Context, caller domain.Caller, id string, at At) (Result[domain.RoleSummary], error) {
	return getIdentity(ctx, q.timeline(), caller, id, at, q.reader.GetRole,
		func(r domain.RoleSummary) error { return q.adminOf(ctx, caller, domain.RoleResource(r.Name)) },
		q.roles().get)
}

// ListRoles lists the roles the caller may administer.
func (q *Identity) ListRoles(ctx context.Context, caller domain.Caller, in IdentityListInput, at At) (Page[domain.RoleSummary], error) {
	return listIdentities(ctx, q.timeline(), caller, in, at, domain.RoleAggregate, q.reader.ListRoles,
		func(r domain.RoleSummary) bool { return q.administers(caller, domain.RoleResource(r.Name)) },
		func(r domain.RoleSummary) string { return r.Name },
		q.roles().inList)
}

// GetPolicy returns a policy; it needs `admin` on policies/<name>.
func (q *Identity) GetPolicy(ctx context.Context, caller domain.Caller, id string, at At) (Result[domain.PolicySummary], error) {
	return getIdentity(ctx, q.timeline(), caller, id, at, q.reader.GetPolicy,
		func(p domain.PolicySummary) error { return q.adminOf(ctx, caller, domain.PolicyResource(p.Name)) },
		q.policies().get)
}

// ListPolicies lists the policies the caller may administer.
func (q *Identity) ListPolicies(ctx context.Context, caller domain.Caller, in IdentityListInput, at At) (Page[domain.PolicySummary], error) {
	return listIdentities(ctx, q.timeline(), caller, in, at, domain.PolicyAggregate, q.reader.ListPolicies,
		func(p domain.PolicySummary) bool { return q.administers(caller, domain.PolicyResource(p.Name)) },
		func(p domain.PolicySummary) string { return p.Name },
		q.policies().inList)
}

// timeline reads users, roles and policies: the identity read model now,
// the log in the past.
func (q *Identity) timeline() timeline {
	return timeline{svc: q.svc, catalog: q.catalog, readModel: domain.ReadModelIdentity}
}

// adminOf authorizes `admin` on resource; a refusal is recorded.
func (q *Identity) adminOf(ctx context.Context, caller domain.Caller, resource string) error {
	return q.svc.access.Authorize(ctx, caller, domain.ActionAdmin, resource)
}

// administers is adminOf for listings: nothing is recorded.
func (q *Identity) administers(caller domain.Caller, resource string) bool {
	return q.svc.access.Allowed(caller, domain.ActionAdmin, resource)
}

// mayReadUser authorizes reading a user: itself, or `admin` on it (a
// refusal is recorded).
func (q *Identity) mayReadUser(ctx context.Context, caller domain.Caller, id, username string) error {
	if caller.Principal.UserID == id {
		return nil
	}
	return q.adminOf(ctx, caller, domain.UserResource(username))
}

// maySeeUser is mayReadUser for listings: nothing is recorded.
func (q *Identity) maySeeUser(caller domain.Caller, id, username string) bool {
	return caller.Principal.UserID == id || q.administers(caller, domain.UserResource(username))
}

// getIdentity answers one user, role or policy: from the read model once
// authorize (which records a refusal) lets the caller see it, or folded as
// of the instant.
func getIdentity[T any](ctx context.Context, tl timeline, caller domain.Caller, id string, at At,
	get func(context.Context, string) (T, error), authorize func(T) error, past func(context.Context, domain.Caller, string, Instant) (T, error)) (Result[T], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[T]{}, err
	}
	v, in, err := source(ctx, tl.svc, caller, at, tl.readModel,
		func(int64) (T, error) {
			row, err := get(ctx, id)
			if err != nil {
				return row, err
			}
			return row, authorize(row)
		},
		func(in Instant) (T, error) { return past(ctx, caller, id, in) })
	if err != nil {
		var zero T
		return Result[T]{Value: zero}, err
	}
	return Result[T]{Value: v, At: in}, nil
}

// listIdentities answers a page of users, roles or policies: one page of the
// read model in name order filtered by visible, or the streams that existed
// at the instant in id order, each folded as it was then. The cursor of the
// present follows the last row read, not the last shown, so rows hidden from
// the caller never stall paging; a page may hold fewer items than the limit
// while next_cursor still leads on.
func listIdentities[T any](ctx context.Context, tl timeline, caller domain.Caller, in IdentityListInput, at At, aggregate string,
	list func(context.Context, domain.IdentityFilter) ([]T, error), visible func(T) bool, name func(T) string,
	viewAt func(ctx context.Context, caller domain.Caller, streamID, prefix string, at Instant) (T, bool, error)) (Page[T], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Page[T]{}, err
	}
	prefix, err := domain.NormalizeIdentityNamePrefix(in.Prefix)
	if err != nil {
		return Page[T]{}, err
	}
	limit, err := pageLimit(in.Limit, domain.IdentityListMaxLimit)
	if err != nil {
		return Page[T]{}, err
	}
	page, inst, err := source(ctx, tl.svc, caller, at, tl.readModel,
		func(int64) (Page[T], error) {
			after, err := domain.DecodeIdentityNameCursor(in.Cursor)
			if err != nil {
				return Page[T]{}, err
			}
			rows, err := list(ctx, domain.IdentityFilter{Prefix: prefix, After: after, Limit: limit})
			if err != nil {
				return Page[T]{}, err
			}
			out := Page[T]{Items: []T{}}
			for _, row := range rows {
				if visible(row) {
					out.Items = append(out.Items, row)
				}
			}
			if len(rows) == limit {
				out.NextCursor = domain.EncodeCursor(name(rows[len(rows)-1]))
			}
			return out, nil
		},
		func(at Instant) (Page[T], error) {
			return listAt(ctx, tl, aggregate, in.Cursor, limit, at, func(streamID string) (T, bool, error) {
				return viewAt(ctx, caller, streamID, prefix, at)
			})
		})
	page.Instant = inst
	return page, err
}
