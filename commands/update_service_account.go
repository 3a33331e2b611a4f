package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// UpdateServiceAccountInput changes the fields that are set. Names are
// fixed at creation: they name the account in policies.
type UpdateServiceAccountInput struct {
	Name        *string
	Description *string
	Roles       *[]string
	Disabled    *bool
}

// UpdateServiceAccount needs `admin` on service-accounts/<name>. New roles
// must be covered by the caller; enabling a disabled account hands its
// credentials' holders everything it holds, so the caller must cover that
// (authorizeHeld). Disabling takes effect on the next request of every
// token the account holds.
func (id *Identity) UpdateServiceAccount(ctx context.Context, caller domain.Caller, accountID string, in UpdateServiceAccountInput) (ServiceAccountView, Written, error) {
	a, err := id.loadServiceAccount(ctx, accountID)
	if err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	target := domain.ServiceAccountResource(a.Name())
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, target); err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	if in.Name != nil {
		name, err := domain.NormalizeName("service account", *in.Name)
		if err != nil {
			return ServiceAccountView{}, Written{}, err
		}
		if name != a.Name() {
			return ServiceAccountView{}, Written{}, domain.Errorf(domain.EUNPROCESSABLE, "a service account's name cannot be changed")
		}
	}
	if in.Description != nil {
		if err := a.UpdateDescription(*in.Description); err != nil {
			return ServiceAccountView{}, Written{}, err
		}
	}
	if in.Disabled != nil {
		wasDisabled := a.Disabled()
		if err := a.SetDisabled(*in.Disabled); err != nil {
			return ServiceAccountView{}, Written{}, err
		}
		if wasDisabled && !a.Disabled() {
			if err := id.authorizeHeld(ctx, caller, target, a.RoleIDs(), "enable"); err != nil {
				return ServiceAccountView{}, Written{}, err
			}
		}
	}
	if in.Roles != nil {
		if err := id.svc.fold.RequireRoles(ctx, *in.Roles); err != nil {
			return ServiceAccountView{}, Written{}, err
		}
		before, err := id.svc.fold.UserStatements(ctx, a.RoleIDs())
		if err != nil {
			return ServiceAccountView{}, Written{}, err
		}
		after, err := id.svc.fold.UserStatements(ctx, *in.Roles)
		if err != nil {
			return ServiceAccountView{}, Written{}, err
		}
		if err := id.authorizeGrant(ctx, caller, target, before, after); err != nil {
			return ServiceAccountView{}, Written{}, err
		}
		if err := a.AssignRoles(*in.Roles); err != nil {
			return ServiceAccountView{}, Written{}, err
		}
	}
	if len(a.Changes()) == 0 {
		return serviceAccountView(a), Written{}, nil
	}
	w, err := id.svc.appendEvents(ctx, a.StreamAppend(caller.Metadata()))
	if err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	return serviceAccountView(a), w, nil
}
