package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// ResetPassword redeems a reset token: the new password passes the password
// policy, is hashed and sealed like any other, and replaces the old one
// together with PasswordResetCompleted (and EmailVerified: the link proves
// the address) and the revocation of every session of the user, in one
// atomic append with the user's expected version. The token is bound to the
// password version it was minted for, so once this append lands it cannot
// be used again, even before it is marked spent.
func (id *Identity) ResetPassword(ctx context.Context, caller domain.Caller, token, newPassword string) (Written, error) {
	email, err := id.accountEmail(caller)
	if err != nil {
		return Written{}, err
	}
	u, lookup, err := id.redeem(ctx, email, domain.TokenPurposeResetPassword, token)
	if err != nil {
		return Written{}, err
	}
	if err := id.opts.PasswordPolicy.Check(u.Username(), newPassword); err != nil {
		return Written{}, err
	}
	replaced := u.Password().Version
	sealed, err := id.hashAndSeal(ctx, u.ID(), u.NextPasswordVersion(), newPassword)
	if err != nil {
		return Written{}, err
	}
	if err := u.ChangePassword(sealed); err != nil {
		return Written{}, err
	}
	if err := u.CompletePasswordReset(); err != nil {
		return Written{}, err
	}
	revocations, err := id.revokeUserSessions(ctx, u.ID(), domain.RevokePasswordChanged)
	if err != nil {
		return Written{}, err
	}
	md := selfMetadata(caller, u)
	appends := append([]domain.StreamAppend{u.StreamAppend(md)}, stamp(md, revocations)...)
	w, err := id.svc.appendEvents(ctx, appends...)
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			return Written{}, domain.WrapError(domain.ECONFLICT, "the account changed meanwhile; ask for a new link if this one no longer works", err)
		}
		return Written{}, err
	}
	id.spend(ctx, email, lookup)
	id.shredOldPassword(ctx, u.ID(), replaced)
	return w, nil
}
