package commands

import (
	"context"
	"strings"

	"github.com/securevault/vault/domain"
)

// UserAt is a user as it was at an instant, in the read model's shape.
type UserAt = domain.UserSummary

// RoleAt is a role as it was at an instant.
type RoleAt = domain.RoleSummary

// PolicyAt is a policy as it was at an instant.
type PolicyAt = domain.PolicySummary

// IdentityListInput filters a time-travel listing of users, roles or
// policies: Prefix on the name as it was then, Cursor opaque.
type IdentityListInput struct {
	Prefix string
	Cursor string
	Limit  int
}

// IdentityPage is one page of such a listing; NextCursor is empty on the
// last page.
type IdentityPage[T any] struct {
	Items      []T
	NextCursor string
}

// AccessCheckAt is CheckAccess's answer as of a past instant.
type AccessCheckAt struct {
	AccessCheck
	Instant
}

// UserAt returns a user as it was at the instant. Like the current
// endpoint, the user itself may read it; anyone else needs `admin` on
// users/<username>. A user deleted by then is not found.
func (t *TimeTravel) UserAt(ctx context.Context, caller Caller, id string, at Instant) (UserAt, error) {
	if err := requireCaller(caller); err != nil {
		return UserAt{}, err
	}
	u, err := t.userAt(ctx, id, at.Position)
	if err != nil {
		return UserAt{}, err
	}
	if caller.Principal.UserID != u.agg.ID() {
		if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, UserResource(u.agg.Username())); err != nil {
			return UserAt{}, err
		}
	}
	return t.userAtView(ctx, u)
}

// ListUsersAt lists the users that existed at the instant and that the
// caller may administer now (or is), in id order.
func (t *TimeTravel) ListUsersAt(ctx context.Context, caller Caller, in IdentityListInput, at Instant) (IdentityPage[UserAt], error) {
	return listAt(ctx, t, caller, domain.UserAggregate, in, at, func(streamID, prefix string) (UserAt, bool, error) {
		f, found, err := foldAt(ctx, t.svc(), streamID, at.Position, domain.LoadUser, domain.RestoreUser)
		if err != nil || !found {
			return UserAt{}, false, err
		}
		u := f.agg
		if u.Deleted() || !strings.HasPrefix(u.Username(), prefix) ||
			(caller.Principal.UserID != u.ID() && !t.svc().allowed(caller, domain.ActionAdmin, UserResource(u.Username()))) {
			return UserAt{}, false, nil
		}
		view, err := t.userAtView(ctx, f)
		return view, err == nil, err
	})
}

// RoleAt returns a role as it was at the instant; it needs `admin` on
// roles/<name as it was then>.
func (t *TimeTravel) RoleAt(ctx context.Context, caller Caller, id string, at Instant) (RoleAt, error) {
	if err := requireCaller(caller); err != nil {
		return RoleAt{}, err
	}
	r, err := t.roleAt(ctx, id, at.Position)
	if err != nil {
		return RoleAt{}, err
	}
	if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, RoleResource(r.agg.Name())); err != nil {
		return RoleAt{}, err
	}
	return t.roleAtView(ctx, r)
}

// ListRolesAt lists the roles that existed at the instant and that the
// caller may administer now, in id order.
func (t *TimeTravel) ListRolesAt(ctx context.Context, caller Caller, in IdentityListInput, at Instant) (IdentityPage[RoleAt], error) {
	return listAt(ctx, t, caller, domain.RoleAggregate, in, at, func(streamID, prefix string) (RoleAt, bool, error) {
		f, found, err := foldAt(ctx, t.svc(), streamID, at.Position, domain.LoadRole, domain.RestoreRole)
		if err != nil || !found {
			return RoleAt{}, false, err
		}
		if r := f.agg; r.Deleted() || !strings.HasPrefix(r.Name(), prefix) || !t.svc().allowed(caller, domain.ActionAdmin, RoleResource(r.Name())) {
			return RoleAt{}, false, nil
		}
		view, err := t.roleAtView(ctx, f)
		return view, err == nil, err
	})
}

// PolicyAt returns a policy as it was at the instant; it needs `admin` on
// policies/<name as it was then>.
func (t *TimeTravel) PolicyAt(ctx context.Context, caller Caller, id string, at Instant) (PolicyAt, error) {
	if err := requireCaller(caller); err != nil {
		return PolicyAt{}, err
	}
	p, err := t.policyAt(ctx, id, at.Position)
	if err != nil {
		return PolicyAt{}, err
	}
	if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, PolicyResource(p.agg.Name())); err != nil {
		return PolicyAt{}, err
	}
	return t.policyAtView(ctx, p)
}

// ListPoliciesAt lists the policies that existed at the instant and that
// the caller may administer now, in id order.
func (t *TimeTravel) ListPoliciesAt(ctx context.Context, caller Caller, in IdentityListInput, at Instant) (IdentityPage[PolicyAt], error) {
	return listAt(ctx, t, caller, domain.PolicyAggregate, in, at, func(streamID, prefix string) (PolicyAt, bool, error) {
		f, found, err := foldAt(ctx, t.svc(), streamID, at.Position, domain.LoadPolicy, domain.RestorePolicy)
		if err != nil || !found {
			return PolicyAt{}, false, err
		}
		if p := f.agg; p.Deleted() || !strings.HasPrefix(p.Name(), prefix) || !t.svc().allowed(caller, domain.ActionAdmin, PolicyResource(p.Name())) {
			return PolicyAt{}, false, nil
		}
		view, err := t.policyAtView(ctx, f)
		return view, err == nil, err
	})
}

// CheckAccessAt answers "could this user do that, then, and which policy
// decided it?": the user, its roles and their policies are all folded up to
// the instant. The caller needs `admin` on users/<username as it was then>,
// decided with its current policies.
func (t *TimeTravel) CheckAccessAt(ctx context.Context, caller Caller, userID, action, resource string, at Instant) (AccessCheckAt, error) {
	if err := requireCaller(caller); err != nil {
		return AccessCheckAt{}, err
	}
	if err := domain.ValidateID("user_id", userID); err != nil {
		return AccessCheckAt{}, err
	}
	if action == "" {
		return AccessCheckAt{}, domain.Errorf(domain.EINVALID, "action is required")
	}
	res, err := domain.NormalizeResource(resource)
	if err != nil {
		return AccessCheckAt{}, err
	}
	f, err := t.userAt(ctx, userID, at.Position)
	if err != nil {
		return AccessCheckAt{}, err
	}
	u := f.agg
	if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, UserResource(u.Username())); err != nil {
		return AccessCheckAt{}, err
	}
	// userAt found events, so at.Position > 0: policiesFor folds as of it
	// rather than reading "now" (its meaning of 0).
	policies, err := t.identity.policiesFor(ctx, u.RoleIDs(), at.Position)
	if err != nil {
		return AccessCheckAt{}, err
	}
	d := domain.Decide(domain.AccessRequest{Action: action, Resource: res}, policies)
	return AccessCheckAt{
		AccessCheck: AccessCheck{UserID: u.ID(), Username: u.Username(), Action: action, Resource: res, Disabled: u.Disabled(), Decision: d},
		Instant:     at,
	}, nil
}

func (t *TimeTravel) userAt(ctx context.Context, id string, pos int64) (foldedAt[*domain.User], error) {
	u, err := identityAt(ctx, t, domain.UserAggregate, id, pos, domain.LoadUser, domain.RestoreUser)
	if err == nil && u.agg.Deleted() {
		return u, domain.Errorf(domain.ENOTFOUND, "user not found at position %d", pos)
	}
	return u, err
}

func (t *TimeTravel) roleAt(ctx context.Context, id string, pos int64) (foldedAt[*domain.Role], error) {
	r, err := identityAt(ctx, t, domain.RoleAggregate, id, pos, domain.LoadRole, domain.RestoreRole)
	if err == nil && r.agg.Deleted() {
		return r, domain.Errorf(domain.ENOTFOUND, "role not found at position %d", pos)
	}
	return r, err
}

func (t *TimeTravel) policyAt(ctx context.Context, id string, pos int64) (foldedAt[*domain.Policy], error) {
	p, err := identityAt(ctx, t, domain.PolicyAggregate, id, pos, domain.LoadPolicy, domain.RestorePolicy)
	if err == nil && p.agg.Deleted() {
		return p, domain.Errorf(domain.ENOTFOUND, "policy not found at position %d", pos)
	}
	return p, err
}

// identityAt folds an aggregate's stream up to pos, answering ENOTFOUND
// when the id is malformed or nothing was recorded by then.
func identityAt[A snapshotter](ctx context.Context, t *TimeTravel, aggregate, id string, pos int64,
	load func([]domain.RecordedEvent) (A, error),
	restore func(state []byte, version int64, rest []domain.RecordedEvent) (A, error),
) (foldedAt[A], error) {
	if !domain.IsID(id) {
		return foldedAt[A]{}, domain.Errorf(domain.ENOTFOUND, "%s not found", aggregate)
	}
	f, found, err := foldAt(ctx, t.svc(), domain.StreamID(aggregate, id), pos, load, restore)
	if err != nil {
		return f, err
	}
	if !found {
		return f, domain.Errorf(domain.ENOTFOUND, "%s not found at position %d", aggregate, pos)
	}
	return f, nil
}

// listAt is the shared listing of identity aggregates at an instant.
func listAt[T any](ctx context.Context, t *TimeTravel, caller Caller, aggregate string, in IdentityListInput, at Instant,
	view func(streamID, prefix string) (T, bool, error)) (IdentityPage[T], error) {
	if err := requireCaller(caller); err != nil {
		return IdentityPage[T]{}, err
	}
	prefix, err := domain.NormalizeIdentityNamePrefix(in.Prefix)
	if err != nil {
		return IdentityPage[T]{}, err
	}
	limit, err := pageLimit(in.Limit)
	if err != nil {
		return IdentityPage[T]{}, err
	}
	after, err := domain.DecodeStreamCursor(aggregate, in.Cursor)
	if err != nil {
		return IdentityPage[T]{}, err
	}
	page := IdentityPage[T]{Items: []T{}}
	next, err := t.scanAt(ctx, aggregate, at.Position, after, limit, func(streamID string) (bool, error) {
		item, ok, err := view(streamID, prefix)
		if err != nil || !ok {
			return false, err
		}
		page.Items = append(page.Items, item)
		return true, nil
	})
	if err != nil {
		return IdentityPage[T]{}, err
	}
	if next != "" {
		page.NextCursor = domain.EncodeCursor(next)
	}
	return page, nil
}

// identityActor is the actor the identity read model records: events
// without one were the system's.
func identityActor(md domain.Metadata) string {
	if md.Actor == "" {
		return domain.SystemActor
	}
	return md.Actor
}

// createdAndChanged is the event that created an aggregate and the one a
// listing shows as its last update, fetched by version unless the fold read
// them.
func (t *TimeTravel) createdAndChanged(ctx context.Context, streamID string, first, last domain.RecordedEvent, changed int64) (domain.RecordedEvent, domain.RecordedEvent, error) {
	events, err := eventsAt(ctx, t.svc(), streamID, []domain.RecordedEvent{first, last}, 1, changed)
	if err != nil {
		return domain.RecordedEvent{}, domain.RecordedEvent{}, err
	}
	return events[1], events[changed], nil
}

func (t *TimeTravel) userAtView(ctx context.Context, f foldedAt[*domain.User]) (UserAt, error) {
	u := f.agg
	// Logins are not profile changes: the user's last update is the event
	// the aggregate remembers, which may lie long before the instant.
	first, changed, err := t.createdAndChanged(ctx, u.StreamID(), f.first, f.last, u.ProfileVersion())
	if err != nil {
		return UserAt{}, err
	}
	roles := u.RoleIDs()
	if roles == nil {
		roles = []string{}
	}
	return UserAt{
		ID: u.ID(), Username: u.Username(), Email: u.Email(), Roles: roles, Disabled: u.Disabled(),
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: changed.RecordedAt, UpdatedBy: identityActor(changed.Metadata),
	}, nil
}

func (t *TimeTravel) roleAtView(ctx context.Context, f foldedAt[*domain.Role]) (RoleAt, error) {
	r := f.agg
	first, last, err := t.createdAndChanged(ctx, r.StreamID(), f.first, f.last, f.last.Version)
	if err != nil {
		return RoleAt{}, err
	}
	policies := r.PolicyIDs()
	if policies == nil {
		policies = []string{}
	}
	return RoleAt{
		ID: r.ID(), Name: r.Name(), Description: r.Description(), Policies: policies,
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}, nil
}

func (t *TimeTravel) policyAtView(ctx context.Context, f foldedAt[*domain.Policy]) (PolicyAt, error) {
	p := f.agg
	first, last, err := t.createdAndChanged(ctx, p.StreamID(), f.first, f.last, f.last.Version)
	if err != nil {
		return PolicyAt{}, err
	}
	v := p.View()
	if v.Statements == nil {
		v.Statements = []domain.Statement{}
	}
	return PolicyAt{
		ID: p.ID(), Name: v.Name, Description: v.Description, Statements: v.Statements,
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}, nil
}
