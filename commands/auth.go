package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/ratelimit"
	"github.com/securevault/vault/seal"
)

// identityRetries bounds how often a command reloads and retries after
// losing an optimistic-concurrency race it can safely redo (a login, a
// refresh, a logout), rather than answering 409.
const identityRetries = 5

// PasswordHasher hashes and verifies passwords; *password.Hasher satisfies
// it.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	// VerifyDummy spends the work of one Verify, so a login for a user that
	// does not exist takes as long as one that does.
	VerifyDummy(ctx context.Context, password string) error
}

// TokenIssuer issues and verifies JWTs; *authtoken.Manager satisfies it.
type TokenIssuer interface {
	IssuePair(userID, sessionID string) (authtoken.Pair, error)
	// IssueClient signs the access token of the client-credentials grant.
	IssueClient(accountID, secretID string, ttl time.Duration) (authtoken.Token, error)
	VerifyAccess(raw string) (authtoken.Claims, error)
	VerifyRefresh(raw string) (authtoken.Claims, error)
	AccessTTL() time.Duration
}

// IdentityOptions tune authentication. Zero values take the defaults; a
// negative rate disables that limiter.
type IdentityOptions struct {
	PasswordPolicy domain.PasswordPolicy
	Lockout        domain.LockoutPolicy
	// LoginIPRate (attempts per second) and LoginIPBurst shape the login
	// token bucket of each client address.
	LoginIPRate  float64
	LoginIPBurst int
	// LoginAccountRate and LoginAccountBurst shape the bucket of each
	// username tried (whether or not it exists) from each address.
	LoginAccountRate  float64
	LoginAccountBurst int
	// LoginLimiterMaxKeys bounds the memory of each limiter.
	LoginLimiterMaxKeys int
	// Clients tunes the client-credentials grant of service accounts.
	Clients ClientOptions
}

// Defaults of IdentityOptions: a person mistyping a password never meets
// them, a script guessing passwords does at once.
const (
	DefaultLoginIPRate         = 1.0 // per second
	DefaultLoginIPBurst        = 20
	DefaultLoginAccountRate    = 0.1 // one every ten seconds
	DefaultLoginAccountBurst   = 10
	DefaultLoginLimiterMaxKeys = 100_000
)

func (o *IdentityOptions) defaults() {
	if o.PasswordPolicy == (domain.PasswordPolicy{}) {
		o.PasswordPolicy = domain.DefaultPasswordPolicy()
	}
	if o.Lockout == (domain.LockoutPolicy{}) {
		o.Lockout = domain.DefaultLockoutPolicy()
	}
	if o.LoginIPRate == 0 {
		o.LoginIPRate = DefaultLoginIPRate
	}
	if o.LoginIPBurst <= 0 {
		o.LoginIPBurst = DefaultLoginIPBurst
	}
	if o.LoginAccountRate == 0 {
		o.LoginAccountRate = DefaultLoginAccountRate
	}
	if o.LoginAccountBurst <= 0 {
		o.LoginAccountBurst = DefaultLoginAccountBurst
	}
	if o.LoginLimiterMaxKeys <= 0 {
		o.LoginLimiterMaxKeys = DefaultLoginLimiterMaxKeys
	}
}

// StreamCatalog enumerates the streams of one aggregate in stream id order;
// *projections/streams.Catalog satisfies it.
type StreamCatalog interface {
	StreamIDs(ctx context.Context, aggregate, afterStreamID string, limit int) ([]string, error)
}

// IdentityDeps are what the identity handlers need besides the Service.
type IdentityDeps struct {
	Hasher PasswordHasher
	Tokens TokenIssuer
	// DataKeys keeps the data keys that seal password hashes, one per user
	// and password version; *keys.Store satisfies it.
	DataKeys seal.DataKeys
	// Users lists user streams. Bootstrap uses it once, to record who holds
	// the admin role on a store created before that was recorded; without
	// it such a store refuses to take the admin role from anyone.
	Users StreamCatalog
}

// Identity is the user, role, policy and session command set: login,
// refresh and logout too. It is a separate type around the shared Service
// so identity wiring stays additive.
type Identity struct {
	svc            *Service
	hasher         PasswordHasher
	tokens         TokenIssuer
	sealer         *seal.Sealer
	users          StreamCatalog
	opts           IdentityOptions
	ipLimiter      *ratelimit.Keyed[string]
	accountLimiter *ratelimit.Keyed[string]
	// email is registration, verification and reset by mail, once
	// EnableAccountEmail set it (account_email.go).
	email   *accountEmail
	clients *clientGrant
}

// NewIdentity returns the identity handlers.
func NewIdentity(svc *Service, deps IdentityDeps, opts IdentityOptions) (*Identity, error) {
	if svc == nil || deps.Hasher == nil || deps.Tokens == nil || deps.DataKeys == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "identity needs a service, a password hasher, a token issuer and a data key store")
	}
	sealer, err := seal.New(deps.DataKeys)
	if err != nil {
		return nil, err
	}
	opts.defaults()
	return &Identity{
		svc: svc, hasher: deps.Hasher, tokens: deps.Tokens, sealer: sealer, users: deps.Users, opts: opts,
		ipLimiter:      newLoginLimiter(opts.LoginIPRate, opts.LoginIPBurst, opts.LoginLimiterMaxKeys, svc.opts.Now),
		accountLimiter: newLoginLimiter(opts.LoginAccountRate, opts.LoginAccountBurst, opts.LoginLimiterMaxKeys, svc.opts.Now),
		clients:        newClientGrant(opts.Clients, svc.opts.Now),
	}, nil
}

func (id *Identity) now() time.Time { return id.svc.opts.Now() }

// systemMetadata stamps events the service appends on its own.
func systemMetadata(name string) domain.Metadata {
	return domain.Metadata{Actor: domain.SystemActor, ActorName: name}
}

func (id *Identity) loadReservation(ctx context.Context, streamID string) (*domain.Reservation, error) {
	events, err := id.svc.fold.ReadStream(ctx, streamID)
	if err != nil {
		return nil, err
	}
	return domain.LoadReservation(streamID, events)
}

// nameTaken rewrites the store's conflict on a reservation stream into a
// message a client understands.
func nameTaken(err error, kind, name string) error {
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return domain.WrapError(domain.ECONFLICT, "the "+kind+" name \""+name+"\" is already taken or was changed concurrently; retry", err)
	}
	return err
}
