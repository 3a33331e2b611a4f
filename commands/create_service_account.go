package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// CreateServiceAccountInput is a new service account.
type CreateServiceAccountInput struct {
	Name        string
	Description string
	Roles       []string
	Disabled    bool
}

// CreateServiceAccount needs `admin` on service-accounts/<name>, and the
// caller must cover what the roles grant (or hold escalate there). The name
// is reserved in the same atomic append as the account's first event.
func (id *Identity) CreateServiceAccount(ctx context.Context, caller domain.Caller, in CreateServiceAccountInput) (ServiceAccountView, Written, error) {
	name, err := domain.NormalizeName("service account", in.Name)
	if err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	target := domain.ServiceAccountResource(name)
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, target); err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	if err := id.svc.fold.RequireRoles(ctx, in.Roles); err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	granted, err := id.svc.fold.UserStatements(ctx, in.Roles)
	if err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	if err := id.authorizeGrant(ctx, caller, target, nil, granted); err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	accountID := domain.NewID()
	res, err := id.loadReservation(ctx, domain.ServiceAccountNameReservationStream(name))
	if err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	if err := res.Reserve(accountID); err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	a, err := domain.NewServiceAccount(accountID, name, in.Description, in.Roles)
	if err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	if err := a.SetDisabled(in.Disabled); err != nil {
		return ServiceAccountView{}, Written{}, err
	}
	md := caller.Metadata()
	w, err := id.svc.appendEvents(ctx, res.StreamAppend(md), a.StreamAppend(md))
	if err != nil {
		return ServiceAccountView{}, Written{}, nameTaken(err, "service account", name)
	}
	return serviceAccountView(a), w, nil
}
