package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// ForgotPassword asks for a reset mail to address. Its answer is the same
// whether or not a user has the address, and so is its work (see
// accountMailRequest): PasswordResetRequested on each matching user's
// stream (the mail consumer then sends the mail) or PasswordResetUnmatched
// on the address's resetattempt stream.
func (id *Identity) ForgotPassword(ctx context.Context, caller domain.Caller, address string) error {
	return id.accountMailRequest(ctx, caller, address, func(u *domain.User, now, since time.Time, perHour int) bool {
		return !u.Disabled() && u.ResetRequestsSince(since) < perHour && u.RequestPasswordReset(now) == nil
	}, domain.NewPasswordResetUnmatched)
}
