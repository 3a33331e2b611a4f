package commands

import (
	"context"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/ratelimit"
)

// Account e-mail: self-registration, address verification and password
// reset by mail. The commands only record what was asked (UserCreated,
// UserUpdated, PasswordResetRequested) and redeem tokens; the mail itself,
// and the token in it, are made by the mail consumer (package mail) when it
// sends, so a token never passes through an event, the bus or a log line.

// EmailTokenStore finds and spends the tokens the mail consumer stored
// (as hashes only); *mail.Store satisfies it.
type EmailTokenStore interface {
	// LookupEmailToken returns the token stored under lookup, or ENOTFOUND.
	LookupEmailToken(ctx context.Context, lookup []byte) (domain.EmailTokenRecord, error)
	// ConsumeEmailToken marks it used; ECONFLICT if it already was.
	ConsumeEmailToken(ctx context.Context, lookup []byte, at time.Time) error
}

// UserDirectory finds users by address; the identity read model's reader
// satisfies it. It is only a hint: each user it names is folded from the
// log and its address checked there.
type UserDirectory interface {
	UserIDsByEmail(ctx context.Context, email string, limit int) ([]string, error)
}

// AccountEmailDeps are what account e-mail needs besides Identity's.
type AccountEmailDeps struct {
	Tokens    EmailTokenStore
	Directory UserDirectory
}

// AccountEmailOptions tune account e-mail. Zero values take the defaults.
type AccountEmailOptions struct {
	// SelfRegistration lets anyone create an account (with no roles).
	SelfRegistration bool
	// RequireVerifiedEmail bars users whose address is not verified from
	// logging in.
	RequireVerifiedEmail bool
	// RequestsPerHour bounds the mails one address and one account can ask
	// for (forgot-password, resend-verification, registration), per hour;
	// an account's resets and resends are counted apart.
	RequestsPerHour int
	// IPRate and IPBurst shape the bucket of each client address across
	// the anonymous account-mail endpoints.
	IPRate  float64
	IPBurst int
	// LimiterMaxKeys bounds the memory of each limiter.
	LimiterMaxKeys int
}

// Defaults of AccountEmailOptions.
const (
	DefaultEmailRequestsPerHour = 5
	// maxUsersPerAddress bounds the accounts one forgot-password request
	// may reach (addresses are not unique).
	maxUsersPerAddress = 5
)

type accountEmail struct {
	deps AccountEmailDeps
	opts AccountEmailOptions
	// ip limits every account e-mail endpoint per client address; address
	// limits forgot-password per e-mail address within this process (the
	// per-account limit that holds across replicas is folded from the log).
	ip      *ratelimit.Keyed[string]
	address *ratelimit.Keyed[string]
}

// EnableAccountEmail turns the account e-mail commands on. Without it they
// answer 503, and login never asks for a verified address.
func (id *Identity) EnableAccountEmail(deps AccountEmailDeps, opts AccountEmailOptions) error {
	if deps.Tokens == nil || deps.Directory == nil {
		return domain.Errorf(domain.EINTERNAL, "account e-mail needs a token store and a user directory")
	}
	if opts.RequestsPerHour <= 0 {
		opts.RequestsPerHour = DefaultEmailRequestsPerHour
	}
	if opts.IPRate == 0 {
		opts.IPRate = id.opts.LoginIPRate
	}
	if opts.IPBurst <= 0 {
		opts.IPBurst = id.opts.LoginIPBurst
	}
	if opts.LimiterMaxKeys <= 0 {
		opts.LimiterMaxKeys = id.opts.LoginLimiterMaxKeys
	}
	perHour := float64(opts.RequestsPerHour) / 3600
	id.email = &accountEmail{
		deps:    deps,
		opts:    opts,
		ip:      newLoginLimiter(opts.IPRate, opts.IPBurst, opts.LimiterMaxKeys, id.svc.opts.Now),
		address: newLoginLimiter(perHour, opts.RequestsPerHour, opts.LimiterMaxKeys, id.svc.opts.Now),
	}
	return nil
}

func (id *Identity) accountEmail(caller domain.Caller) (*accountEmail, error) {
	if id.email == nil {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "account e-mail is not configured on this server")
	}
	if ok, wait := id.email.ip.Allow(loginAddress(caller.ClientIP)); !ok {
		return nil, newRateLimitError("too many requests from this address; retry later", wait)
	}
	return id.email, nil
}

// requireVerifiedEmail is login's check under VAULT_REQUIRE_VERIFIED_EMAIL,
// made after the password was verified so it tells nothing to someone who
// does not know it. A user without an address (created by an administrator
// for a person or a machine that gets no mail) has nothing to verify.
func (id *Identity) requireVerifiedEmail(u *domain.User) error {
	if id.email == nil || !id.email.opts.RequireVerifiedEmail || u.Email() == "" || u.EmailVerified() {
		return nil
	}
	return domain.Errorf(domain.EFORBIDDEN,
		"the e-mail address of this account is not verified: follow the link in the verification mail, or ask for a new one with forgot-password")
}

// redeem finds the token raw for purpose and the user it acts on, checked
// against the user's present state. Every refusal is one message.
func (id *Identity) redeem(ctx context.Context, email *accountEmail, purpose, raw string) (*domain.User, []byte, error) {
	lookup, err := domain.EmailTokenLookup(raw)
	if err != nil {
		return nil, nil, err
	}
	rec, err := email.deps.Tokens.LookupEmailToken(ctx, lookup)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, nil, domain.ErrBadEmailToken()
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := id.svc.fold.User(ctx, rec.UserID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, nil, domain.ErrBadEmailToken()
	}
	if err != nil {
		return nil, nil, err
	}
	if err := domain.CheckEmailToken(rec, purpose, u, raw, id.now()); err != nil {
		return nil, nil, err
	}
	return u, lookup, nil
}

// spend marks a redeemed token used. The change it allowed is already
// appended; the binding to the user's state is what stops a second use of
// a reset token even if this fails, so a failure is only logged.
func (id *Identity) spend(ctx context.Context, email *accountEmail, lookup []byte) {
	if err := email.deps.Tokens.ConsumeEmailToken(context.WithoutCancel(ctx), lookup, id.now()); err != nil {
		id.svc.logger.WarnContext(ctx, "could not mark an e-mail token used", "error", err)
	}
}

// selfMetadata stamps what users do to their own account without a
// session (register, verify, reset): they are the actor.
func selfMetadata(caller domain.Caller, u *domain.User) domain.Metadata {
	md := caller.Metadata()
	md.Actor, md.ActorName = u.ID(), u.Username()
	return md
}

// accountMailRequest is an anonymous request for mail to an address. Its
// answer is the same whether or not a user has the address, and so is its
// work: one lookup in the directory, one stream read and one append, either
// of what ask recorded on each user that has the address (ask says whether
// it recorded anything: the user's state and its hourly limit allow it) or
// of unmatched on the address's resetattempt stream (when nobody has the
// address, or ask recorded nothing). Only the per-client-address limit
// (429) can differ, and it depends on the client, not on the address.
func (id *Identity) accountMailRequest(ctx context.Context, caller domain.Caller, address string,
	ask func(u *domain.User, now, since time.Time, perHour int) bool,
	unmatched func(at time.Time, md domain.Metadata) domain.NewEvent) error {
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
		if !strings.EqualFold(u.Email(), addr) || !ask(u, now, since, email.opts.RequestsPerHour) {
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
			Events: []domain.NewEvent{unmatched(now, caller.Metadata())},
		}}
	}
	// A conflict means the user changed meanwhile; the request is dropped
	// rather than retried, so the work stays the same on every path.
	if _, err := id.svc.log.AppendStreams(context.WithoutCancel(ctx), appends...); err != nil && domain.ErrorCode(err) != domain.ECONFLICT {
		return err
	}
	return nil
}
