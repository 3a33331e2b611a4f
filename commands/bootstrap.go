package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// Bootstrap creates, on a store that has none, the built-in admin policy,
// the admin role and the user `admin` with adminPassword, and records the
// user as the admin role's one holder. Everything is one atomic append of
// new streams (the aggregates with fixed ids, their name reservations and
// the admin membership, all "no stream"), so when two vaultd replicas start
// at once exactly one append wins and the other finds the work done. It
// reports whether this call created them; running it again creates nothing
// but upgrades what an older build bootstrapped (see upgrade).
func (id *Identity) Bootstrap(ctx context.Context, adminPassword string) (bool, error) {
	done, err := id.bootstrapped(ctx)
	if err != nil {
		return false, err
	}
	if done {
		return false, id.upgrade(ctx)
	}
	if err := id.opts.PasswordPolicy.Check(domain.AdminUsername, adminPassword); err != nil {
		return false, domain.WrapError(domain.EUNPROCESSABLE, "the admin password is not acceptable: "+domain.ErrorMessage(err), err)
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
	userID := domain.NewID()
	sealed, err := id.hashAndSeal(ctx, userID, domain.FirstPasswordVersion, adminPassword)
	if err != nil {
		return false, err
	}
	user, err := domain.NewUser(userID, domain.AdminUsername, "", sealed)
	if err != nil {
		return false, err
	}
	if err := user.AssignRoles([]string{domain.AdminRoleID}); err != nil {
		return false, err
	}
	members, err := domain.LoadRoleMembers(domain.AdminRoleID, nil)
	if err != nil {
		return false, err
	}
	if err := members.Add(user.ID()); err != nil {
		return false, err
	}
	md := systemMetadata("bootstrap")
	appends := []domain.StreamAppend{policy.StreamAppend(md), role.StreamAppend(md), user.StreamAppend(md), members.StreamAppend(md)}
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
			id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
			return id.lostBootstrapRace(ctx, domain.WrapError(domain.ECONFLICT, "cannot bootstrap: a built-in name is held by something else", err))
		}
		appends = append(appends, res.StreamAppend(md))
	}
	if _, err := id.svc.log.AppendStreams(ctx, appends...); err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
			return id.lostBootstrapRace(ctx, err)
		}
		return false, err
	}
	id.svc.logger.InfoContext(ctx, "bootstrapped the built-in admin policy, role and user", "user_id", user.ID())
	return true, nil
}

// upgrade brings what an older build bootstrapped up to date, with
// appended, audited events by the system actor (never a rewrite): the
// admin policy gains escalate, which `*` no longer implies, and the admin
// role's holders are recorded. Both are idempotent and safe to race.
func (id *Identity) upgrade(ctx context.Context) error {
	if err := id.upgradeAdminPolicy(ctx); err != nil {
		return err
	}
	return id.recordAdminMembers(ctx)
}

func (id *Identity) upgradeAdminPolicy(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		p, err := id.svc.fold.Policy(ctx, domain.AdminPolicyID, 0)
		if err != nil {
			return err
		}
		cur := p.View()
		if !domain.AdminPolicyNeedsEscalate(cur.Statements) {
			return nil
		}
		if err := p.Update(cur.Name, cur.Description, domain.AdminPolicyWithEscalate(cur.Statements)); err != nil {
			return err
		}
		_, err = id.svc.log.AppendStreams(ctx, p.StreamAppend(systemMetadata("upgrade")))
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue // another replica upgraded it, or something else changed it: look again
		}
		if err == nil {
			id.svc.logger.InfoContext(ctx, "the built-in admin policy now names escalate, which * no longer implies")
		}
		return err
	}
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
