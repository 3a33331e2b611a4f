package commands

import (
	"context"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

// ForgotPassword asks for a reset mail to address. Its answer is the same
// whether or not a user has the address, and so is its work: one lookup in
// the directory, one stream read and one append, either
// PasswordResetRequested on each matching user's stream (the mail consumer
// then sends the mail) or PasswordResetUnmatched on the address's
// resetattempt stream (when nobody has the address, or every account that
// has it is over its hourly limit). Only the per-client-address limit (429)
// can differ, and it depends on the client, not on the address.
func (id *Identity) ForgotPassword(ctx context.Context, caller domain.Caller, address string) error {
	email, err := id.accountEmail(caller)
	if err != nil {
		return err
	}
	addr, err := domain.NormalizeEmail(address)
	if err != nil {
		return err
	}
	if addr == "" {
		return domain.Errorf(domain.EINVALID, "email is required")
	}
	if ok, wait := email.address.Allow(domain.ResetAttemptStream(addr)); !ok {
		return newRateLimitError("too many requests for this address; retry later", wait)
	}
	ids, err := email.deps.Directory.UserIDsByEmail(ctx, addr, maxUsersPerAddress)
	if err != nil {
		return err
	}
	now := id.now()
	since := now.Add(-time.Hour)
	var appends []domain.StreamAppend
	for _, userID := range ids {
		u, err := id.svc.fold.User(ctx, userID)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			continue
		}
		if err != nil {
			return err
		}
		if u.Disabled() || !strings.EqualFold(u.Email(), addr) || u.ResetRequestsSince(since) >= email.opts.RequestsPerHour {
			continue
		}
		if err := u.RequestPasswordReset(now); err != nil {
			continue
		}
		appends = append(appends, u.StreamAppend(selfMetadata(caller, u)))
	}
	if len(appends) == 0 {
		stream := domain.ResetAttemptStream(addr)
		if _, err := id.svc.fold.ReadStream(ctx, stream); err != nil {
			return err
		}
		appends = []domain.StreamAppend{{
			StreamID: stream, Expected: domain.ExpectAny,
			Events: []domain.NewEvent{domain.NewPasswordResetUnmatched(now, caller.Metadata())},
		}}
	}
	// A conflict means the user changed meanwhile; the request is dropped
	// rather than retried, so the work stays the same on every path.
	if _, err := id.svc.log.AppendStreams(context.WithoutCancel(ctx), appends...); err != nil && domain.ErrorCode(err) != domain.ECONFLICT {
		return err
	}
	return nil
}
