package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
)

// LoginAttemptAggregate names the streams that record failed logins for
// usernames that do not exist (loginattempt-<sha256 of the username>). They
// lock an unknown username exactly as a real account locks, so neither the
// answer nor its timing tells an attacker which usernames exist.
const LoginAttemptAggregate = "loginattempt"

// Tokens is what a login or a refresh hands out. The values are bearer
// credentials: they go to the client and nowhere else.
type Tokens struct {
	Access    authtoken.Token
	Refresh   authtoken.Token
	ExpiresIn time.Duration
	UserID    string
	SessionID string
}

func errBadCredentials() error {
	return domain.Errorf(domain.EUNAUTHORIZED, "invalid username or password")
}

func errLocked(wait time.Duration) error {
	return newRateLimitError("too many failed logins for this account; retry later", wait)
}

// loginAttemptStream keys the unknown-username stream by a hash, so any
// input, however long or odd, makes a well-formed stream id.
func loginAttemptStream(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return domain.StreamID(LoginAttemptAggregate, hex.EncodeToString(sum[:]))
}

// Login checks a username and password and starts a session. Every path
// does the work of exactly one data key unwrap and one Argon2id
// verification (the real ones, or verifyDummy for an unknown, disabled or
// locked account) and answers wrong credentials with one message. Repeated
// failures lock the address they came from out of the account for a
// growing interval (see domain.LockoutPolicy); the failures are events, so
// the lockout holds on every replica.
func (id *Identity) Login(ctx context.Context, caller domain.Caller, username, password string) (Tokens, error) {
	address := loginAddress(caller.ClientIP)
	if ok, wait := id.ipLimiter.Allow(caller.ClientIP); !ok {
		return Tokens{}, newRateLimitError("too many login attempts from this address; retry later", wait)
	}
	// Per account and address, so a flood against a username never slows
	// its owner down elsewhere.
	if ok, wait := id.accountLimiter.Allow(loginAttemptStream(username) + " " + address); !ok {
		return Tokens{}, newRateLimitError("too many login attempts for this account; retry later", wait)
	}
	name, err := domain.NormalizeUsername(username)
	if err != nil {
		return Tokens{}, id.failUnknown(ctx, caller, username, password)
	}
	res, err := id.loadReservation(ctx, domain.UsernameReservationStream(name))
	if err != nil {
		return Tokens{}, err
	}
	if res.Owner() == "" {
		return Tokens{}, id.failUnknown(ctx, caller, name, password)
	}
	verified := int64(-1) // the password version already verified
	for attempt := 0; ; attempt++ {
		u, err := id.svc.fold.User(ctx, res.Owner())
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			// Deleted between reading the reservation and the user.
			return Tokens{}, id.failUnknown(ctx, caller, name, password)
		}
		if err != nil {
			return Tokens{}, err
		}
		now := id.now()
		if until := u.LockedUntil(id.opts.Lockout, address, now); now.Before(until) {
			if err := id.verifyDummy(ctx, password); err != nil {
				return Tokens{}, err
			}
			if err := id.recordUserFailure(ctx, caller, u, domain.LoginFailLocked, now); err != nil {
				return Tokens{}, err
			}
			return Tokens{}, errLocked(until.Sub(now))
		}
		if u.Disabled() {
			if err := id.verifyDummy(ctx, password); err != nil {
				return Tokens{}, err
			}
			if err := id.recordUserFailure(ctx, caller, u, domain.LoginFailDisabled, now); err != nil {
				return Tokens{}, err
			}
			return Tokens{}, errBadCredentials()
		}
		if current := u.Password().Version; verified != current || u.LegacyPasswordHash() != "" {
			ok, err := id.verifyPassword(ctx, u, password)
			if domain.ErrorCode(err) == domain.ECONFLICT {
				if attempt < identityRetries {
					continue
				}
				return Tokens{}, domain.WrapError(domain.EINTERNAL, "the data key of a live password is missing", err)
			}
			if err != nil {
				return Tokens{}, err
			}
			if !ok {
				if err := id.recordUserFailure(ctx, caller, u, domain.LoginFailBadPassword, now); err != nil {
					return Tokens{}, err
				}
				return Tokens{}, errBadCredentials()
			}
			verified = current
		}
		if err := id.requireVerifiedEmail(u); err != nil {
			return Tokens{}, err
		}
		tokens, err := id.startSession(ctx, caller, u, now)
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			// Another login or an admin change moved the user on; the
			// checks above run again against the new state.
			continue
		}
		return tokens, err
	}
}

// startSession appends LoginSucceeded and SessionStarted together, with the
// user's expected version, so a login cannot slip past a concurrent disable
// or delete.
func (id *Identity) startSession(ctx context.Context, caller domain.Caller, u *domain.User, now time.Time) (Tokens, error) {
	sid := domain.NewID()
	pair, err := id.tokens.IssuePair(u.ID(), sid)
	if err != nil {
		return Tokens{}, err
	}
	sess, err := domain.StartSession(sid, u.ID(), pair.Refresh.ID, pair.Refresh.ExpiresAt)
	if err != nil {
		return Tokens{}, err
	}
	if err := u.RecordLoginSucceeded(sid, loginAddress(caller.ClientIP), now); err != nil {
		return Tokens{}, err
	}
	md := caller.Metadata()
	md.Actor, md.ActorName = u.ID(), u.Username()
	if _, err := id.svc.log.AppendStreams(ctx, u.StreamAppend(md), sess.StreamAppend(md)); err != nil {
		return Tokens{}, err
	}
	return Tokens{Access: pair.Access, Refresh: pair.Refresh, ExpiresIn: id.tokens.AccessTTL(), UserID: u.ID(), SessionID: sid}, nil
}

// recordUserFailure appends LoginFailed whatever the user's version: a
// failure is a fact that needs no optimistic check, and retrying it on a
// conflict would only make a brute force cheaper to absorb. If it cannot be
// recorded the login fails with that error, so an attempt never escapes
// the lockout count.
func (id *Identity) recordUserFailure(ctx context.Context, caller domain.Caller, u *domain.User, reason string, now time.Time) error {
	if err := u.RecordLoginFailed(reason, loginAddress(caller.ClientIP), now); err != nil {
		return err
	}
	md := caller.Metadata()
	md.ActorName = u.Username()
	_, err := id.svc.log.AppendStreams(context.WithoutCancel(ctx), domain.StreamAppend{
		StreamID: u.StreamID(), Expected: domain.ExpectAny, Events: u.ChangesWith(md),
	})
	return err
}

// failUnknown is the unknown-username path: the same work, the same
// answer, and the same lockout as a real account, recorded on the
// username's loginattempt stream (never with the password).
func (id *Identity) failUnknown(ctx context.Context, caller domain.Caller, username, password string) error {
	stream := loginAttemptStream(username)
	events, err := id.svc.fold.ReadStream(ctx, stream)
	if err != nil {
		return err
	}
	seen, err := domain.FoldLoginAttempts(events)
	if err != nil {
		return err
	}
	if err := id.verifyDummy(ctx, password); err != nil {
		return err
	}
	now := id.now()
	address := loginAddress(caller.ClientIP)
	reason := domain.LoginFailUnknownUser
	until := seen.LockedUntil(id.opts.Lockout, address, now)
	if now.Before(until) {
		reason = domain.LoginFailLocked
	}
	ev, err := domain.NewLoginAttemptFailed(reason, address, now, caller.Metadata())
	if err != nil {
		return err
	}
	_, err = id.svc.log.AppendStreams(context.WithoutCancel(ctx), domain.StreamAppend{
		StreamID: stream, Expected: domain.ExpectAny, Events: []domain.NewEvent{ev},
	})
	if err != nil {
		return err
	}
	if reason == domain.LoginFailLocked {
		return errLocked(until.Sub(now))
	}
	return errBadCredentials()
}
