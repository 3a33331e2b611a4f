package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// DeleteServiceAccount needs `admin` on service-accounts/<name>. The
// account and every credential end in one append that also releases the
// name; every token it holds fails from the next request on. Its data keys
// are deleted afterwards, which shreds every secret MAC it ever had.
// Taking power away needs no cover.
func (id *Identity) DeleteServiceAccount(ctx context.Context, caller domain.Caller, accountID string) (Written, error) {
	a, err := id.loadServiceAccount(ctx, accountID)
	if err != nil {
		return Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.ServiceAccountResource(a.Name())); err != nil {
		return Written{}, err
	}
	res, err := id.loadReservation(ctx, domain.ServiceAccountNameReservationStream(a.Name()))
	if err != nil {
		return Written{}, err
	}
	if err := a.Delete(); err != nil {
		return Written{}, err
	}
	if err := res.Release(a.ID()); err != nil {
		return Written{}, err
	}
	md := caller.Metadata()
	w, err := id.svc.appendEvents(ctx, a.StreamAppend(md), res.StreamAppend(md))
	if err != nil {
		return Written{}, err
	}
	if err := id.sealer.ShredOwner(context.WithoutCancel(ctx), a.ID()); err != nil {
		id.svc.logger.WarnContext(ctx, "service account deleted but its data keys could not be deleted yet", "service_account_id", a.ID(), "error", err)
	}
	return w, nil
}
