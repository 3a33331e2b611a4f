package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// VerifyEmail redeems a verification token: EmailVerified is appended with
// the user's expected version, then the token is spent. A token for an
// address the user no longer has (or had again since) does not verify.
func (id *Identity) VerifyEmail(ctx context.Context, caller domain.Caller, token string) (UserView, Written, error) {
	email, err := id.accountEmail(caller)
	if err != nil {
		return UserView{}, Written{}, err
	}
	u, lookup, err := id.redeem(ctx, email, domain.TokenPurposeVerifyEmail, token)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := u.VerifyEmail(u.Email()); err != nil {
		return UserView{}, Written{}, err
	}
	var w Written
	if len(u.Changes()) > 0 {
		if w, err = id.svc.appendEvents(ctx, u.StreamAppend(selfMetadata(caller, u))); err != nil {
			return UserView{}, Written{}, err
		}
	}
	id.spend(ctx, email, lookup)
	return userView(u), w, nil
}
