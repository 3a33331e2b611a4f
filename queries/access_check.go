package queries

import (
	"context"
	"fmt"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// AccessCheckInput asks whether a user may perform an action on a
// resource.
type AccessCheckInput struct {
	UserID   string
	Action   string
	Resource string
}

// AccessCheck is the answer of CheckAccess: the decision and the statement
// that made it, so an operator can see why, and the instant it was decided
// as of when that was a past one.
type AccessCheck struct {
	UserID   string          `json:"user_id"`
	Username string          `json:"username"`
	Action   string          `json:"action"`
	Resource string          `json:"resource"`
	Disabled bool            `json:"disabled"`
	Decision domain.Decision `json:"decision"`
	*Instant
}

// CheckAccess evaluates, without acting, whether a user may perform action
// on resource: with the policies in force now (folded from the log, exactly
// as Authenticate does), or, as of a past instant, with the user, its roles
// and their policies all folded up to it ("could this user do that, then,
// and which policy decided it?"). The caller needs `admin` on
// users/<username> (as it was then), decided with its current policies.
func (q *Identity) CheckAccess(ctx context.Context, caller domain.Caller, in AccessCheckInput, at At) (AccessCheck, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return AccessCheck{}, err
	}
	var inst *Instant
	if at.Past() {
		resolved, err := q.svc.Resolve(ctx, at)
		if err != nil {
			return AccessCheck{}, err
		}
		inst = &resolved
	}
	if err := domain.ValidateID("user_id", in.UserID); err != nil {
		return AccessCheck{}, err
	}
	if in.Action == "" {
		return AccessCheck{}, domain.Errorf(domain.EINVALID, "action is required")
	}
	res, err := domain.NormalizeResource(in.Resource)
	if err != nil {
		return AccessCheck{}, err
	}
	var (
		u        *domain.User
		position int64 // 0: now
	)
	if inst == nil {
		u, err = q.svc.fold.User(ctx, in.UserID)
	} else {
		var f fold.Folded[*domain.User]
		f, err = q.users().foldAt(ctx, in.UserID, inst.Position)
		// The fold found events, so inst.Position > 0: PoliciesFor folds as
		// of it rather than reading "now" (its meaning of 0).
		u, position = f.Agg, inst.Position
	}
	if err != nil {
		return AccessCheck{}, err
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.UserResource(u.Username())); err != nil {
		return AccessCheck{}, err
	}
	policies, err := q.svc.fold.PoliciesFor(ctx, u.RoleIDs(), position)
	if err != nil {
		return AccessCheck{}, err
	}
	d := domain.Decide(domain.AccessRequest{Action: in.Action, Resource: res}, policies)
	return AccessCheck{
		UserID: u.ID(), Username: u.Username(), Action: in.Action, Resource: res, Disabled: u.Disabled(), Decision: d, Instant: inst,
	}, nil
}

// GrantCheckInput asks whether a user could hand out a set of permissions:
// the allows of Statements and of the statements of Policies and Roles
// (ids), as if granting them to someone who had nothing. Target, when set,
// is the resource the grant would change (users/<name>, roles/<name>,
// policies/<name>), where escalate would let the user grant anyway.
type GrantCheckInput struct {
	UserID     string
	Target     string
	Statements []domain.Statement
	Policies   []string
	Roles      []string
}

// GrantCheck is the answer of CheckGrant: allowed, or the first permission
// the user lacks, exactly as a role, policy or user change would be
// refused.
type GrantCheck struct {
	UserID   string             `json:"user_id"`
	Username string             `json:"username"`
	Target   string             `json:"target,omitempty"`
	Allowed  bool               `json:"allowed"`
	Escalate bool               `json:"escalate"`
	Missing  *domain.Permission `json:"missing,omitempty"`
	Reason   string             `json:"reason"`
}

// CheckGrant explains the no-escalation rule for one grant, without acting.
// A caller may ask about itself; asking about another user needs `admin`
// on users/<username>.
func (q *Identity) CheckGrant(ctx context.Context, caller domain.Caller, in GrantCheckInput) (GrantCheck, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return GrantCheck{}, err
	}
	if in.UserID == "" {
		in.UserID = caller.Principal.UserID
	}
	if err := domain.ValidateID("user_id", in.UserID); err != nil {
		return GrantCheck{}, err
	}
	target := ""
	if in.Target != "" {
		t, err := domain.NormalizeResource(in.Target)
		if err != nil {
			return GrantCheck{}, err
		}
		target = t
	}
	statements, err := domain.NormalizeStatements(in.Statements)
	if err != nil {
		return GrantCheck{}, err
	}
	u, err := q.svc.fold.User(ctx, in.UserID)
	if err != nil {
		return GrantCheck{}, err
	}
	if err := q.mayReadUser(ctx, caller, u.ID(), u.Username()); err != nil {
		return GrantCheck{}, err
	}
	if err := q.svc.fold.RequirePolicies(ctx, in.Policies); err != nil {
		return GrantCheck{}, err
	}
	if err := q.svc.fold.RequireRoles(ctx, in.Roles); err != nil {
		return GrantCheck{}, err
	}
	fromPolicies, err := q.svc.fold.PolicyStatements(ctx, in.Policies)
	if err != nil {
		return GrantCheck{}, err
	}
	fromRoles, err := q.svc.fold.UserStatements(ctx, in.Roles)
	if err != nil {
		return GrantCheck{}, err
	}
	granted := append(append(statements, fromPolicies...), fromRoles...)
	held, err := q.svc.fold.PoliciesFor(ctx, u.RoleIDs(), 0)
	if err != nil {
		return GrantCheck{}, err
	}
	out := GrantCheck{UserID: u.ID(), Username: u.Username(), Target: target}
	if target != "" && domain.Decide(domain.AccessRequest{Action: domain.ActionEscalate, Resource: target}, held).Allowed {
		out.Allowed, out.Escalate = true, true
		out.Reason = "allowed: the user holds escalate on " + target
		return out, nil
	}
	missing, ok := domain.FirstUncovered(held, domain.GrantOf(nil, granted), domain.Permissions(granted, domain.EffectDeny))
	if ok {
		out.Allowed, out.Reason = true, "allowed: the user holds every permission granted"
		return out, nil
	}
	out.Missing = &missing
	needs := "escalate on the resource being changed"
	if target != "" {
		needs = domain.ActionEscalate + " on " + target
	}
	out.Reason = fmt.Sprintf("not allowed to grant %s: the user does not hold it (needs %s)", missing, needs)
	return out, nil
}
