package commands

import (
	"context"

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
