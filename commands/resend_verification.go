package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// ResendVerification asks for another verification mail to address (the
// first was lost, or its link expired), with the same answer and the same
// work whatever the address: EmailVerificationRequested on each user whose
// address it is and not verified yet, or EmailVerificationUnmatched.
func (id *Identity) ResendVerification(ctx context.Context, caller domain.Caller, address string) error {
	return id.accountMailRequest(ctx, caller, address, func(u *domain.User, now, since time.Time, perHour int) bool {
		return u.VerificationRequestsSince(since) < perHour && u.RequestEmailVerification(now) == nil
	}, domain.NewEmailVerificationUnmatched)
}
