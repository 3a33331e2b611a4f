package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RevokeClientCredential needs `admin` on service-accounts/<name>; taking
// a way in away needs no cover. Every token the credential bought fails
// from the next request on, on every replica, because authentication folds
// the account; the secret's data key is shredded once that is stored.
func (id *Identity) RevokeClientCredential(ctx context.Context, caller domain.Caller, accountID, credentialID string) (Written, error) {
	if err := domain.ValidateID("credential id", credentialID); err != nil {
		return Written{}, err
	}
	for attempt := 0; ; attempt++ {
		a, err := id.loadServiceAccount(ctx, accountID)
		if err != nil {
			return Written{}, err
		}
		if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.ServiceAccountResource(a.Name())); err != nil {
			return Written{}, err
		}
		version := a.KeyVersionOf(credentialID)
		if err := a.RevokeCredential(credentialID); err != nil {
			return Written{}, err
		}
		w, err := id.svc.appendEvents(ctx, a.StreamAppend(caller.Metadata()))
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue
		}
		if err != nil {
			return Written{}, err
		}
		id.shredKeyVersions(ctx, a.ID(), version)
		return w, nil
	}
}
