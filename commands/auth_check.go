package commands

import (
	"context"
	"fmt"

	"github.com/securevault/vault/domain"
)

// AccessCheck is the answer of CheckAccess: the decision and the statement
// that made it, so an operator can see why.
type AccessCheck struct {
	UserID   string          `json:"user_id"`
	Username string          `json:"username"`
	Action   string          `json:"action"`
	Resource string          `json:"resource"`
	Disabled bool            `json:"disabled"`
	Decision domain.Decision `json:"decision"`
}

// CheckAccess evaluates, without acting, whether userID may perform action
// on resource with the policies in force now (folded from the log, exactly
// as Authenticate does). It needs `admin` on users/<username>.
func (id *Identity) CheckAccess(ctx context.Context, caller Caller, userID, action, resource string) (AccessCheck, error) {
	if err := domain.ValidateID("user_id", userID); err != nil {
		return AccessCheck{}, err
	}
	if action == "" {
		return AccessCheck{}, domain.Errorf(domain.EINVALID, "action is required")
	}
	res, err := domain.NormalizeResource(resource)
	if err != nil {
		return AccessCheck{}, err
	}
	u, err := id.loadUser(ctx, userID)
	if err != nil {
		return AccessCheck{}, err
	}
	if err := id.Authorize(ctx, caller, domain.ActionAdmin, UserResource(u.Username())); err != nil {
		return AccessCheck{}, err
	}
	policies, err := id.policiesFor(ctx, u.RoleIDs(), 0)
	if err != nil {
		return AccessCheck{}, err
	}
	d := domain.Decide(domain.AccessRequest{Action: action, Resource: res}, policies)
	return AccessCheck{UserID: u.ID(), Username: u.Username(), Action: action, Resource: res, Disabled: u.Disabled(), Decision: d}, nil
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
func (id *Identity) CheckGrant(ctx context.Context, caller Caller, in GrantCheckInput) (GrantCheck, error) {
	if !caller.Principal.Authenticated() {
		return GrantCheck{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
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
	u, err := id.loadUser(ctx, in.UserID)
	if err != nil {
		return GrantCheck{}, err
	}
	if u.ID() != caller.Principal.UserID {
		if err := id.Authorize(ctx, caller, domain.ActionAdmin, UserResource(u.Username())); err != nil {
			return GrantCheck{}, err
		}
	}
	if err := id.requirePolicies(ctx, in.Policies); err != nil {
		return GrantCheck{}, err
	}
	if err := id.requireRoles(ctx, in.Roles); err != nil {
		return GrantCheck{}, err
	}
	fromPolicies, err := id.policyStatements(ctx, in.Policies)
	if err != nil {
		return GrantCheck{}, err
	}
	fromRoles, err := id.userStatements(ctx, in.Roles)
	if err != nil {
		return GrantCheck{}, err
	}
	granted := append(append(statements, fromPolicies...), fromRoles...)
	held, err := id.policiesFor(ctx, u.RoleIDs(), 0)
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
