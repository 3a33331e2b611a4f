package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RotateClientCredential gives a credential a new secret, under the same
// rule as creating one. The old secret and every token it bought stop
// working at once (tokens name the secret they were bought with); its data
// key is shredded once the rotation is stored.
func (id *Identity) RotateClientCredential(ctx context.Context, caller domain.Caller, accountID, credentialID string) (IssuedCredential, Written, error) {
	if err := domain.ValidateID("credential id", credentialID); err != nil {
		return IssuedCredential{}, Written{}, err
	}
	for attempt := 0; ; attempt++ {
		a, err := id.authorizeMint(ctx, caller, accountID, "rotate a credential of")
		if err != nil {
			return IssuedCredential{}, Written{}, err
		}
		replaced := a.KeyVersionOf(credentialID)
		if replaced == 0 {
			return IssuedCredential{}, Written{}, domain.Errorf(domain.ENOTFOUND, "credential not found")
		}
		sealed, text, err := id.mintClientSecret(ctx, a.ID(), a.NextKeyVersion())
		if err != nil {
			return IssuedCredential{}, Written{}, err
		}
		if err := a.RotateCredential(credentialID, sealed, id.now()); err != nil {
			return IssuedCredential{}, Written{}, err
		}
		w, err := id.svc.appendEvents(ctx, a.StreamAppend(caller.Metadata()))
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue
		}
		if err != nil {
			return IssuedCredential{}, Written{}, err
		}
		id.shredKeyVersions(ctx, a.ID(), replaced)
		c, _ := a.Credential(credentialID)
		return IssuedCredential{Credential: c, ClientSecret: text}, w, nil
	}
}
