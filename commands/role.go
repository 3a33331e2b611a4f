package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RoleView is a role as a command answers it.
type RoleView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Policies    []string `json:"policies"`
}

func roleView(r *domain.Role) RoleView {
	return RoleView{ID: r.ID(), Name: r.Name(), Description: r.Description(), Policies: r.PolicyIDs()}
}

// RoleInput is a role's fields. For an update, nil leaves a field as is.
type RoleInput struct {
	Name        *string
	Description *string
	Policies    *[]string
}

func derefInput[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// CreateRole needs `admin` on roles/<name>, and the caller must cover what
// the policies grant (or hold escalate there); every policy must exist. The
// name is reserved in the same atomic append as RoleCreated.
func (id *Identity) CreateRole(ctx context.Context, caller domain.Caller, in RoleInput) (RoleView, Written, error) {
	name, err := domain.NormalizeName("role", derefInput(in.Name))
	if err != nil {
		return RoleView{}, Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.RoleResource(name)); err != nil {
		return RoleView{}, Written{}, err
	}
	policies := derefInput(in.Policies)
	if err := id.svc.fold.RequirePolicies(ctx, policies); err != nil {
		return RoleView{}, Written{}, err
	}
	granted, err := id.svc.fold.PolicyStatements(ctx, policies)
	if err != nil {
		return RoleView{}, Written{}, err
	}
	if err := id.authorizeGrant(ctx, caller, domain.RoleResource(name), nil, granted); err != nil {
		return RoleView{}, Written{}, err
	}
	r, err := domain.NewRole(domain.NewID(), name, derefInput(in.Description), policies)
	if err != nil {
		return RoleView{}, Written{}, err
	}
	res, err := id.loadReservation(ctx, domain.RoleNameReservationStream(name))
	if err != nil {
		return RoleView{}, Written{}, err
	}
	if err := res.Reserve(r.ID()); err != nil {
		return RoleView{}, Written{}, err
	}
	md := caller.Metadata()
	w, err := id.svc.appendEvents(ctx, res.StreamAppend(md), r.StreamAppend(md))
	if err != nil {
		return RoleView{}, Written{}, nameTaken(err, "role", name)
	}
	return roleView(r), w, nil
}

// UpdateRole needs `admin` on the role's name, and on the new name when it
// is renamed; a rename swaps the name reservations atomically. A change of
// policies must be covered by the caller: what added policies allow, and
// what removed policies deny (authorizeGrant).
func (id *Identity) UpdateRole(ctx context.Context, caller domain.Caller, roleID string, in RoleInput) (RoleView, Written, error) {
	if err := domain.ValidateID("role id", roleID); err != nil {
		return RoleView{}, Written{}, err
	}
	r, err := id.svc.fold.Role(ctx, roleID, 0)
	if err != nil {
		return RoleView{}, Written{}, err
	}
	oldName := r.Name()
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.RoleResource(oldName)); err != nil {
		return RoleView{}, Written{}, err
	}
	name, description, policies := oldName, r.Description(), r.PolicyIDs()
	if in.Name != nil {
		if name, err = domain.NormalizeName("role", *in.Name); err != nil {
			return RoleView{}, Written{}, err
		}
	}
	if in.Description != nil {
		description = *in.Description
	}
	if in.Policies != nil {
		policies = *in.Policies
		if err := id.svc.fold.RequirePolicies(ctx, policies); err != nil {
			return RoleView{}, Written{}, err
		}
		before, err := id.svc.fold.PolicyStatements(ctx, r.PolicyIDs())
		if err != nil {
			return RoleView{}, Written{}, err
		}
		after, err := id.svc.fold.PolicyStatements(ctx, policies)
		if err != nil {
			return RoleView{}, Written{}, err
		}
		if err := id.authorizeGrant(ctx, caller, domain.RoleResource(oldName), before, after); err != nil {
			return RoleView{}, Written{}, err
		}
	}
	if name != oldName {
		if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.RoleResource(name)); err != nil {
			return RoleView{}, Written{}, err
		}
	}
	if err := r.Update(name, description, policies); err != nil {
		return RoleView{}, Written{}, err
	}
	if len(r.Changes()) == 0 {
		return roleView(r), Written{}, nil
	}
	md := caller.Metadata()
	appends := []domain.StreamAppend{r.StreamAppend(md)}
	if name != oldName {
		swap, err := id.swapReservations(ctx, domain.RoleNameReservationStream(oldName), domain.RoleNameReservationStream(name), r.ID())
		if err != nil {
			return RoleView{}, Written{}, err
		}
		appends = append(appends, stamp(md, swap)...)
	}
	w, err := id.svc.appendEvents(ctx, appends...)
	if err != nil {
		return RoleView{}, Written{}, nameTaken(err, "role", name)
	}
	return roleView(r), w, nil
}

// DeleteRole needs `admin` on roles/<name> and frees the name. Users still
// naming the role get nothing from it, so its denies stop binding them: the
// caller must cover what they deny. The built-in admin role stays.
func (id *Identity) DeleteRole(ctx context.Context, caller domain.Caller, roleID string) (Written, error) {
	if err := domain.ValidateID("role id", roleID); err != nil {
		return Written{}, err
	}
	r, err := id.svc.fold.Role(ctx, roleID, 0)
	if err != nil {
		return Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.RoleResource(r.Name())); err != nil {
		return Written{}, err
	}
	if err := r.Delete(); err != nil {
		return Written{}, err
	}
	before, err := id.svc.fold.PolicyStatements(ctx, r.PolicyIDs())
	if err != nil {
		return Written{}, err
	}
	if err := id.authorizeGrant(ctx, caller, domain.RoleResource(r.Name()), before, nil); err != nil {
		return Written{}, err
	}
	res, err := id.loadReservation(ctx, domain.RoleNameReservationStream(r.Name()))
	if err != nil {
		return Written{}, err
	}
	if err := res.Release(r.ID()); err != nil {
		return Written{}, err
	}
	md := caller.Metadata()
	return id.svc.appendEvents(ctx, r.StreamAppend(md), res.StreamAppend(md))
}

// swapReservations releases oldStream and claims newStream for owner, as
// appends to join the rename's atomic append.
func (id *Identity) swapReservations(ctx context.Context, oldStream, newStream, owner string) ([]domain.StreamAppend, error) {
	oldRes, err := id.loadReservation(ctx, oldStream)
	if err != nil {
		return nil, err
	}
	newRes, err := id.loadReservation(ctx, newStream)
	if err != nil {
		return nil, err
	}
	if err := newRes.Reserve(owner); err != nil {
		return nil, err
	}
	if err := oldRes.Release(owner); err != nil {
		return nil, err
	}
	var out []domain.StreamAppend
	for _, r := range []*domain.Reservation{oldRes, newRes} {
		if len(r.Changes()) > 0 {
			out = append(out, domain.StreamAppend{StreamID: r.StreamID(), Expected: r.Expected(), Events: r.Changes()})
		}
	}
	return out, nil
}
