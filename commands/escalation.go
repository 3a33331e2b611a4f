package commands

import (
	"context"
	"fmt"

	"github.com/securevault/vault/domain"
)

// No escalation (see domain/covers.go for the rule and the meaning of
// "covers"). Every command that changes what someone holds computes the
// statements the changed policy, role or user carries before and after the
// change, and passes both here; a command that changes another user's
// credentials or state checks that the caller covers what that user holds.

// authorizeGrant allows a change of target (users/<name>, roles/<name> or
// policies/<name>) from statements before to after when the caller covers
// the change's grant or holds escalate on target. A refusal names the first
// permission the caller lacks and is recorded as AccessDenied.
func (id *Identity) authorizeGrant(ctx context.Context, caller domain.Caller, target string, before, after []domain.Statement) error {
	grant := domain.GrantOf(before, after)
	if len(grant) == 0 || id.mayEscalate(caller, target) {
		return nil
	}
	missing, ok := domain.FirstUncovered(caller.Principal.Policies, grant, domain.Permissions(after, domain.EffectDeny))
	if ok {
		return nil
	}
	return id.refuseEscalation(ctx, caller, target,
		fmt.Sprintf("not allowed to grant %s: you do not hold it (needs %s on %s)", missing, domain.ActionEscalate, target))
}

// authorizeTakeover allows changing the credentials or state of u (its
// password, e-mail, disabled flag, deletion, sessions) when the caller is u,
// holds escalate on users/<name>, or covers every permission u holds: whoever
// can log in as u afterwards must not gain anything by it. `admin` on the
// user is checked before, as for any change.
func (id *Identity) authorizeTakeover(ctx context.Context, caller domain.Caller, u *domain.User) error {
	if caller.Principal.UserID == u.ID() {
		return nil
	}
	return id.authorizeHeld(ctx, caller, domain.UserResource(u.Username()), u.RoleIDs(), "change the credentials of")
}

// authorizeHeld allows an act on target (changing a user's credentials,
// minting a service account's) that hands whoever holds the result every
// permission of roleIDs: the caller must hold escalate on target or cover
// all of them. what names the act in the refusal.
func (id *Identity) authorizeHeld(ctx context.Context, caller domain.Caller, target string, roleIDs []string, what string) error {
	if id.mayEscalate(caller, target) {
		return nil
	}
	held, err := id.svc.fold.UserStatements(ctx, roleIDs)
	if err != nil {
		return err
	}
	missing, ok := domain.FirstUncovered(caller.Principal.Policies,
		domain.Permissions(held, domain.EffectAllow), domain.Permissions(held, domain.EffectDeny))
	if ok {
		return nil
	}
	return id.refuseEscalation(ctx, caller, target,
		fmt.Sprintf("not allowed to %s %s: it holds %s and you do not (needs %s on %s)", what, target, missing, domain.ActionEscalate, target))
}

func (id *Identity) mayEscalate(caller domain.Caller, target string) bool {
	return id.svc.access.Allowed(caller, domain.ActionEscalate, target)
}

func (id *Identity) refuseEscalation(ctx context.Context, caller domain.Caller, target, message string) error {
	id.svc.access.Refuse(ctx, caller, domain.ActionEscalate, target, message)
	return domain.Errorf(domain.EFORBIDDEN, "%s", message)
}
