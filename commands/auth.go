package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/ratelimit"
	"github.com/securevault/vault/seal"
)

// IdentityReadModel is the projection identity commands wait for and
// identity queries read; it matches projections/identity.Name.
const IdentityReadModel = "identity"

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

// Identity is the user, role, policy and session handler set: commands,
// authentication and the access checks the identity queries need. It is a
// separate type around the shared Service so identity wiring stays additive.
type Identity struct {
	svc            *Service
	hasher         PasswordHasher
	tokens         TokenIssuer
	sealer         *seal.Sealer
	users          StreamCatalog
	opts           IdentityOptions
	ipLimiter      *ratelimit.Keyed[string]
	accountLimiter *ratelimit.Keyed[string]
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
	}, nil
}

func (id *Identity) now() time.Time { return id.svc.opts.Now() }

// errInvalidToken is the one answer to any token or session problem, so a
// caller cannot tell which check failed.
func errInvalidToken() error {
	return domain.Errorf(domain.EUNAUTHORIZED, "invalid or expired token")
}

// Authenticate turns a bearer access token into a Principal. Everything but
// the signature is folded from the event log: the session (logged out,
// revoked by reuse detection or expired: 401), the user (deleted or
// disabled: 401) and the policies of the user's roles. A change therefore
// takes effect on every replica as soon as its event commits.
func (id *Identity) Authenticate(ctx context.Context, bearerToken string) (Principal, error) {
	claims, err := id.tokens.VerifyAccess(bearerToken)
	if err != nil {
		return Principal{}, err
	}
	sess, err := id.loadSession(ctx, claims.SessionID)
	if err != nil {
		return Principal{}, unauthorizedUnlessInternal(err)
	}
	if !sess.Active(id.now()) || sess.UserID() != claims.UserID {
		return Principal{}, errInvalidToken()
	}
	u, err := id.loadUser(ctx, claims.UserID)
	if err != nil {
		return Principal{}, unauthorizedUnlessInternal(err)
	}
	if u.Disabled() {
		return Principal{}, errInvalidToken()
	}
	policies, err := id.policiesFor(ctx, u.RoleIDs(), 0)
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: u.ID(), Username: u.Username(), SessionID: sess.ID(), Policies: policies}, nil
}

// unauthorizedUnlessInternal hides why a token's session or user could not
// be found, but lets a database failure through as what it is.
func unauthorizedUnlessInternal(err error) error {
	switch domain.ErrorCode(err) {
	case domain.ENOTFOUND, domain.EINVALID:
		return errInvalidToken()
	}
	return err
}

// Authorize is the access check for identity queries: deny by default, and
// a refusal is recorded as an AccessDenied event.
func (id *Identity) Authorize(ctx context.Context, caller Caller, action, resource string) error {
	return id.svc.authorize(ctx, caller, action, resource)
}

// Allowed filters lists: hiding an item is not an attempt, so nothing is
// recorded.
func (id *Identity) Allowed(caller Caller, action, resource string) bool {
	return id.svc.allowed(caller, action, resource)
}

// UserResource, RoleResource and PolicyResource name what `admin` is
// checked on.
func UserResource(username string) string { return domain.ResourceUsers + "/" + username }

// RoleResource names a role for access checks.
func RoleResource(name string) string { return domain.ResourceRoles + "/" + name }

// PolicyResource names a policy for access checks.
func PolicyResource(name string) string { return domain.ResourcePolicies + "/" + name }

// systemMetadata stamps events the service appends on its own.
func systemMetadata(name string) domain.Metadata {
	return domain.Metadata{Actor: domain.SystemActor, ActorName: name}
}

// loadUser folds a live user; deleted users are not found.
func (id *Identity) loadUser(ctx context.Context, userID string) (*domain.User, error) {
	if !domain.IsID(userID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "user not found")
	}
	u, err := loadLatest(ctx, id.svc, domain.StreamID(domain.UserAggregate, userID), domain.LoadUser, domain.RestoreUser)
	if err != nil {
		return nil, err
	}
	if u.Deleted() {
		return nil, domain.Errorf(domain.ENOTFOUND, "user not found")
	}
	return u, nil
}

func (id *Identity) loadSession(ctx context.Context, sessionID string) (*domain.Session, error) {
	if !domain.IsID(sessionID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "session not found")
	}
	return loadLatest(ctx, id.svc, domain.StreamID(domain.SessionAggregate, sessionID), domain.LoadSession, domain.RestoreSession)
}

// loadRole folds a live role. maxPosition > 0 folds it as it was then.
func (id *Identity) loadRole(ctx context.Context, roleID string, maxPosition int64) (*domain.Role, error) {
	if !domain.IsID(roleID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "role not found")
	}
	r, err := loadAsOf(ctx, id.svc, domain.StreamID(domain.RoleAggregate, roleID), maxPosition, domain.LoadRole, domain.RestoreRole)
	if err != nil {
		return nil, err
	}
	if r.Deleted() {
		return nil, domain.Errorf(domain.ENOTFOUND, "role not found")
	}
	return r, nil
}

// loadPolicy folds a live policy. maxPosition > 0 folds it as it was then.
func (id *Identity) loadPolicy(ctx context.Context, policyID string, maxPosition int64) (*domain.Policy, error) {
	if !domain.IsID(policyID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "policy not found")
	}
	p, err := loadAsOf(ctx, id.svc, domain.StreamID(domain.PolicyAggregate, policyID), maxPosition, domain.LoadPolicy, domain.RestorePolicy)
	if err != nil {
		return nil, err
	}
	if p.Deleted() {
		return nil, domain.Errorf(domain.ENOTFOUND, "policy not found")
	}
	return p, nil
}

func (id *Identity) loadReservation(ctx context.Context, streamID string) (*domain.Reservation, error) {
	events, err := id.svc.readStream(ctx, streamID, 0)
	if err != nil {
		return nil, err
	}
	return domain.LoadReservation(streamID, events)
}

// policiesFor resolves roles to the policies in force, folded from the log
// (as of maxPosition when > 0). Deleted roles and policies contribute
// nothing, which is also what makes deleting one take effect at once.
func (id *Identity) policiesFor(ctx context.Context, roleIDs []string, maxPosition int64) ([]domain.PolicyView, error) {
	roles := make(map[string]domain.RoleView, len(roleIDs))
	policies := map[string]domain.PolicyView{}
	for _, rid := range roleIDs {
		r, err := id.loadRole(ctx, rid, maxPosition)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		roles[rid] = r.View()
		for _, pid := range r.PolicyIDs() {
			if _, done := policies[pid]; done {
				continue
			}
			p, err := id.loadPolicy(ctx, pid, maxPosition)
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				continue
			}
			if err != nil {
				return nil, err
			}
			policies[pid] = p.View()
		}
	}
	return domain.PoliciesFor(roleIDs, roles, policies), nil
}

// requireRoles checks that every role id names a live role. A role deleted
// right after the check is harmless: deleted roles grant nothing.
func (id *Identity) requireRoles(ctx context.Context, roleIDs []string) error {
	for _, rid := range roleIDs {
		if err := domain.ValidateID("role id", rid); err != nil {
			return err
		}
		if _, err := id.loadRole(ctx, rid, 0); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.Errorf(domain.EUNPROCESSABLE, "role %s does not exist", rid)
			}
			return err
		}
	}
	return nil
}

// requirePolicies checks that every policy id names a live policy.
func (id *Identity) requirePolicies(ctx context.Context, policyIDs []string) error {
	for _, pid := range policyIDs {
		if err := domain.ValidateID("policy id", pid); err != nil {
			return err
		}
		if _, err := id.loadPolicy(ctx, pid, 0); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.Errorf(domain.EUNPROCESSABLE, "policy %s does not exist", pid)
			}
			return err
		}
	}
	return nil
}

// nameTaken rewrites the store's conflict on a reservation stream into a
// message a client understands.
func nameTaken(err error, kind, name string) error {
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return domain.WrapError(domain.ECONFLICT, "the "+kind+" name \""+name+"\" is already taken or was changed concurrently; retry", err)
	}
	return err
}
