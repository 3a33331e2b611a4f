package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// The last holder of the admin role cannot lose it. Who holds it is
// recorded in the admin role's membership stream (domain.RoleMembers), and
// every change that makes a user start or stop holding it in use appends to
// that stream with its expected version in the same atomic append as the
// user's own events. Two such changes decided on the same membership
// therefore cannot both commit, on one replica or many: the loser gets a
// conflict (409) and, if it retries, decides again on the new membership.

func (id *Identity) loadAdminMembers(ctx context.Context) (*domain.RoleMembers, error) {
	m, _, err := fold.Latest(ctx, id.svc.fold, domain.AdminMembersStream(),
		func(events []domain.RecordedEvent) (*domain.RoleMembers, error) {
			return domain.LoadRoleMembers(domain.AdminRoleID, events)
		}, domain.RestoreRoleMembers)
	return m, err
}

// adminMembershipChange returns the append that records userID starting
// (after) or stopping (before) to hold the admin role, or none when that
// does not change. Stopping needs another member whose own stream shows it
// still holds the role.
func (id *Identity) adminMembershipChange(ctx context.Context, userID string, before, after bool) ([]domain.StreamAppend, error) {
	if before == after {
		return nil, nil
	}
	m, err := id.loadAdminMembers(ctx)
	if err != nil {
		return nil, err
	}
	if after {
		err = m.Add(userID)
	} else {
		var others []string
		if others, err = id.verifiedAdmins(ctx, m.Members(), userID); err == nil {
			err = m.Remove(userID, others)
		}
	}
	if err != nil {
		return nil, err
	}
	return []domain.StreamAppend{{StreamID: m.StreamID(), Expected: m.Expected(), Events: m.Changes()}}, nil
}

// verifiedAdmins returns one member other than except that holds the admin
// role in use according to its own stream, or none. One is enough: any
// change that would take it from that member appends to the membership
// stream too, so it conflicts with the append this check goes into.
func (id *Identity) verifiedAdmins(ctx context.Context, members []string, except string) ([]string, error) {
	for _, uid := range members {
		if uid == except {
			continue
		}
		u, err := id.svc.fold.User(ctx, uid)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		if u.HoldsActively(domain.AdminRoleID) {
			return []string{uid}, nil
		}
	}
	return nil, nil
}

// recordAdminMembers creates the membership stream of a store bootstrapped
// before it existed, from the users that hold the admin role now. It reads
// the user streams the stream catalog lists and checks each from its own
// stream; a holder the catalog has not seen yet is only missing from the
// list, which errs towards refusing to take the role from someone. Another
// replica doing the same at once makes this append conflict, and its list
// stands.
func (id *Identity) recordAdminMembers(ctx context.Context) error {
	m, err := id.loadAdminMembers(ctx)
	if err != nil || m.Recorded() {
		return err
	}
	if id.users == nil {
		id.svc.logger.WarnContext(ctx, "cannot record who holds the admin role (no stream catalog); nobody can lose the admin role until it is recorded")
		return nil
	}
	const page = 500
	after := ""
	for {
		streams, err := id.users.StreamIDs(ctx, domain.UserAggregate, after, page)
		if err != nil {
			return err
		}
		for _, sid := range streams {
			u, err := id.svc.fold.User(ctx, sid[len(domain.UserAggregate)+1:])
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				continue
			}
			if err != nil {
				return err
			}
			if u.HoldsActively(domain.AdminRoleID) {
				if err := m.Add(u.ID()); err != nil {
					return err
				}
			}
		}
		if len(streams) < page {
			break
		}
		after = streams[len(streams)-1]
	}
	if len(m.Changes()) == 0 {
		return nil
	}
	_, err = id.svc.log.AppendStreams(ctx, domain.StreamAppend{
		StreamID: m.StreamID(), Expected: domain.ExpectNoStream, Events: m.ChangesWith(systemMetadata("upgrade")),
	})
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return nil
	}
	if err == nil {
		id.svc.logger.InfoContext(ctx, "recorded who holds the admin role", "holders", len(m.Members()))
	}
	return err
}
