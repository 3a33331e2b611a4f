package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// Bootstrap creates, on a store that has none, the built-in admin policy,
// the admin role and the user `admin` with adminPassword. Everything is one
// atomic append of new streams (the aggregates with fixed ids and their
// name reservations, all "no stream"), so when two vaultd replicas start at
// once exactly one append wins and the other finds the work done. It
// reports whether this call created them; running it again is a no-op.
func (id *Identity) Bootstrap(ctx context.Context, adminPassword string) (bool, error) {
	done, err := id.bootstrapped(ctx)
	if err != nil || done {
		return false, err
	}
	if err := id.opts.PasswordPolicy.Check(domain.AdminUsername, adminPassword); err != nil {
		return false, domain.WrapError(domain.EUNPROCESSABLE, "the admin password is not acceptable: "+domain.ErrorMessage(err), err)
	}
	hash, err := id.hasher.Hash(ctx, adminPassword)
	if err != nil {
		return false, err
	}
	builtin := domain.AdminPolicy()
	policy, err := domain.NewPolicy(builtin.ID, builtin.Name, builtin.Description, builtin.Statements)
	if err != nil {
		return false, err
	}
	role, err := domain.NewRole(domain.AdminRoleID, domain.AdminRoleName, "Built-in: holds the admin policy.", []string{domain.AdminPolicyID})
	if err != nil {
		return false, err
	}
	user, err := domain.NewUser(domain.NewID(), domain.AdminUsername, "", hash)
	if err != nil {
		return false, err
	}
	if err := user.AssignRoles([]string{domain.AdminRoleID}); err != nil {
		return false, err
	}
	md := systemMetadata("bootstrap")
	appends := []domain.StreamAppend{policy.StreamAppend(md), role.StreamAppend(md), user.StreamAppend(md)}
	for _, claim := range []struct{ stream, owner string }{
		{domain.PolicyNameReservationStream(domain.AdminPolicyName), domain.AdminPolicyID},
		{domain.RoleNameReservationStream(domain.AdminRoleName), domain.AdminRoleID},
		{domain.UsernameReservationStream(domain.AdminUsername), user.ID()},
	} {
		res, err := id.loadReservation(ctx, claim.stream)
		if err != nil {
			return false, err
		}
		if err := res.Reserve(claim.owner); err != nil {
			return id.lostBootstrapRace(ctx, domain.WrapError(domain.ECONFLICT, "cannot bootstrap: a built-in name is held by something else", err))
		}
		appends = append(appends, res.StreamAppend(md))
	}
	if _, err := id.svc.log.AppendStreams(ctx, appends...); err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			return id.lostBootstrapRace(ctx, err)
		}
		return false, err
	}
	id.svc.logger.InfoContext(ctx, "bootstrapped the built-in admin policy, role and user", "user_id", user.ID())
	return true, nil
}

// bootstrapped reports whether the built-in admin policy was ever created;
// it cannot be deleted, so its stream marks a store that was set up.
func (id *Identity) bootstrapped(ctx context.Context) (bool, error) {
	events, err := id.svc.log.ReadStream(ctx, domain.StreamID(domain.PolicyAggregate, domain.AdminPolicyID), 0, 1)
	if err != nil {
		return false, err
	}
	return len(events) > 0, nil
}

// lostBootstrapRace turns a conflict into "already done" when another
// replica bootstrapping at the same moment won; otherwise the conflict is
// real (a built-in name taken by something else) and is returned.
func (id *Identity) lostBootstrapRace(ctx context.Context, conflict error) (bool, error) {
	done, err := id.bootstrapped(ctx)
	if err != nil {
		return false, err
	}
	if done {
		return false, nil
	}
	return false, conflict
}
