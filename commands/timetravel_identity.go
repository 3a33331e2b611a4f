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

// isUserChange tells the user events the read model shows as an update;
// logins are not profile changes.
func isUserChange(eventType string) bool {
	switch eventType {
	case domain.EventUserCreated, domain.EventUserUpdated, domain.EventUserRolesAssigned,
		domain.EventUserDisabled, domain.EventUserEnabled, domain.EventUserPasswordChanged:
		return true
	}
	return false
}

// UserAt returns a user as it was at the instant. Like the current
// endpoint, the user itself may read it; anyone else needs `admin` on
// users/<username>. A user deleted by then is not found.
func (t *TimeTravel) UserAt(ctx context.Context, caller Caller, id string, at Instant) (UserAt, error) {
	if err := requireCaller(caller); err != nil {
		return UserAt{}, err
	}
	u, events, err := t.userAt(ctx, id, at.Position)
	if err != nil {
		return UserAt{}, err
	}
	if caller.Principal.UserID != u.ID() {
		if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, UserResource(u.Username())); err != nil {
			return UserAt{}, err
		}
	}
	return userAtView(u, events), nil
}

// ListUsersAt lists the users that existed at the instant and that the
// caller may administer now (or is), in id order.
func (t *TimeTravel) ListUsersAt(ctx context.Context, caller Caller, in IdentityListInput, at Instant) (IdentityPage[UserAt], error) {
	return listAt(ctx, t, caller, domain.UserAggregate, in, at, func(events []domain.RecordedEvent, prefix string) (UserAt, bool, error) {
		u, err := domain.LoadUser(events)
		if err != nil {
			return UserAt{}, false, err
		}
		ok := !u.Deleted() && strings.HasPrefix(u.Username(), prefix) &&
			(caller.Principal.UserID == u.ID() || t.svc().allowed(caller, domain.ActionAdmin, UserResource(u.Username())))
		return userAtView(u, events), ok, nil
	})
}

// RoleAt returns a role as it was at the instant; it needs `admin` on
// roles/<name as it was then>.
func (t *TimeTravel) RoleAt(ctx context.Context, caller Caller, id string, at Instant) (RoleAt, error) {
	if err := requireCaller(caller); err != nil {
		return RoleAt{}, err
	}
	r, events, err := t.roleAt(ctx, id, at.Position)
	if err != nil {
		return RoleAt{}, err
	}
	if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, RoleResource(r.Name())); err != nil {
		return RoleAt{}, err
	}
	return roleAtView(r, events), nil
}

// ListRolesAt lists the roles that existed at the instant and that the
// caller may administer now, in id order.
func (t *TimeTravel) ListRolesAt(ctx context.Context, caller Caller, in IdentityListInput, at Instant) (IdentityPage[RoleAt], error) {
	return listAt(ctx, t, caller, domain.RoleAggregate, in, at, func(events []domain.RecordedEvent, prefix string) (RoleAt, bool, error) {
		r, err := domain.LoadRole(events)
		if err != nil {
			return RoleAt{}, false, err
		}
		ok := !r.Deleted() && strings.HasPrefix(r.Name(), prefix) && t.svc().allowed(caller, domain.ActionAdmin, RoleResource(r.Name()))
		return roleAtView(r, events), ok, nil
	})
}

// PolicyAt returns a policy as it was at the instant; it needs `admin` on
// policies/<name as it was then>.
func (t *TimeTravel) PolicyAt(ctx context.Context, caller Caller, id string, at Instant) (PolicyAt, error) {
	if err := requireCaller(caller); err != nil {
		return PolicyAt{}, err
	}
	p, events, err := t.policyAt(ctx, id, at.Position)
	if err != nil {
		return PolicyAt{}, err
	}
	if err := t.svc().authorize(ctx, caller, domain.ActionAdmin, PolicyResource(p.Name())); err != nil {
		return PolicyAt{}, err
	}
	return policyAtView(p, events), nil
}

// ListPoliciesAt lists the policies that existed at the instant and that
// the caller may administer now, in id order.
func (t *TimeTravel) ListPoliciesAt(ctx context.Context, caller Caller, in IdentityListInput, at Instant) (IdentityPage[PolicyAt], error) {
	return listAt(ctx, t, caller, domain.PolicyAggregate, in, at, func(events []domain.RecordedEvent, prefix string) (PolicyAt, bool, error) {
		p, err := domain.LoadPolicy(events)
		if err != nil {
			return PolicyAt{}, false, err
		}
		ok := !p.Deleted() && strings.HasPrefix(p.Name(), prefix) && t.svc().allowed(caller, domain.ActionAdmin, PolicyResource(p.Name()))
		return policyAtView(p, events), ok, nil
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
	u, _, err := t.userAt(ctx, userID, at.Position)
	if err != nil {
		return AccessCheckAt{}, err
	}
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

func (t *TimeTravel) userAt(ctx context.Context, id string, pos int64) (*domain.User, []domain.RecordedEvent, error) {
	events, err := t.foldable(ctx, domain.UserAggregate, id, pos)
	if err != nil {
		return nil, nil, err
	}
	u, err := domain.LoadUser(events)
	if err != nil {
		return nil, nil, err
	}
	if u.Deleted() {
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "user not found at position %d", pos)
	}
	return u, events, nil
}

func (t *TimeTravel) roleAt(ctx context.Context, id string, pos int64) (*domain.Role, []domain.RecordedEvent, error) {
	events, err := t.foldable(ctx, domain.RoleAggregate, id, pos)
	if err != nil {
		return nil, nil, err
	}
	r, err := domain.LoadRole(events)
	if err != nil {
		return nil, nil, err
	}
	if r.Deleted() {
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "role not found at position %d", pos)
	}
	return r, events, nil
}

func (t *TimeTravel) policyAt(ctx context.Context, id string, pos int64) (*domain.Policy, []domain.RecordedEvent, error) {
	events, err := t.foldable(ctx, domain.PolicyAggregate, id, pos)
	if err != nil {
		return nil, nil, err
	}
	p, err := domain.LoadPolicy(events)
	if err != nil {
		return nil, nil, err
	}
	if p.Deleted() {
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "policy not found at position %d", pos)
	}
	return p, events, nil
}

// foldable reads an aggregate's stream up to pos, answering ENOTFOUND when
// the id is malformed or nothing was recorded by then.
func (t *TimeTravel) foldable(ctx context.Context, aggregate, id string, pos int64) ([]domain.RecordedEvent, error) {
	if !domain.IsID(id) {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s not found", aggregate)
	}
	events, err := t.streamAt(ctx, domain.StreamID(aggregate, id), pos)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s not found at position %d", aggregate, pos)
	}
	return events, nil
}

// listAt is the shared listing of identity aggregates at an instant.
func listAt[T any](ctx context.Context, t *TimeTravel, caller Caller, aggregate string, in IdentityListInput, at Instant,
	view func(events []domain.RecordedEvent, prefix string) (T, bool, error)) (IdentityPage[T], error) {
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
	next, err := t.scanAt(ctx, aggregate, at.Position, after, limit, func(events []domain.RecordedEvent) (bool, error) {
		item, ok, err := view(events, prefix)
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

func userAtView(u *domain.User, events []domain.RecordedEvent) UserAt {
	first, last := events[0], events[0]
	for _, ev := range events {
		if isUserChange(ev.Type) {
			last = ev
		}
	}
	roles := u.RoleIDs()
	if roles == nil {
		roles = []string{}
	}
	return UserAt{
		ID: u.ID(), Username: u.Username(), Email: u.Email(), Roles: roles, Disabled: u.Disabled(),
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}
}

func roleAtView(r *domain.Role, events []domain.RecordedEvent) RoleAt {
	first, last := events[0], events[len(events)-1]
	policies := r.PolicyIDs()
	if policies == nil {
		policies = []string{}
	}
	return RoleAt{
		ID: r.ID(), Name: r.Name(), Description: r.Description(), Policies: policies,
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}
}

func policyAtView(p *domain.Policy, events []domain.RecordedEvent) PolicyAt {
	first, last := events[0], events[len(events)-1]
	v := p.View()
	if v.Statements == nil {
		v.Statements = []domain.Statement{}
	}
	return PolicyAt{
		ID: p.ID(), Name: v.Name, Description: v.Description, Statements: v.Statements,
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}
}
