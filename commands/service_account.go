package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/ratelimit"
)

// Service accounts are identities, so their commands are Identity's: the
// same access checks, the same no-escalation rule (escalation.go), the same
// data keys. An account's roles are a grant (authorizeGrant on
// service-accounts/<name>); minting, rotating a credential or enabling the
// account hands its holder everything the account holds, so the caller
// must cover all of it (authorizeHeld), as for changing a user's password.

// ServiceAccountView is a service account as a command answers it.
type ServiceAccountView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Roles       []string `json:"roles"`
	Disabled    bool     `json:"disabled"`
}

func serviceAccountView(a *domain.ServiceAccount) ServiceAccountView {
	roles := a.RoleIDs()
	if roles == nil {
		roles = []string{}
	}
	return ServiceAccountView{ID: a.ID(), Name: a.Name(), Description: a.Description(), Roles: roles, Disabled: a.Disabled()}
}

// ClientOptions tune the client-credentials grant. Zero values take the
// defaults; a negative rate disables that limiter.
type ClientOptions struct {
	// TokenTTL is the lifetime of an access token the grant issues.
	TokenTTL time.Duration
	// IPRate (requests per second) and IPBurst shape the token bucket of
	// each client address; ClientRate and ClientBurst that of each client
	// id, wherever its requests come from.
	IPRate      float64
	IPBurst     int
	ClientRate  float64
	ClientBurst int
}

// Defaults of ClientOptions: a fleet of workers sharing one credential
// fetches a token every few minutes each; a flood meets the limits at once.
const (
	DefaultClientTokenTTL = 15 * time.Minute
	DefaultClientIPRate   = 5.0
	DefaultClientIPBurst  = 50
	DefaultClientIDRate   = 2.0
	DefaultClientIDBurst  = 30
	clientLimiterMaxKeys  = 100_000
	maxClientTokenTTL     = 24 * time.Hour
)

func (o *ClientOptions) defaults() {
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultClientTokenTTL
	}
	o.TokenTTL = min(o.TokenTTL, maxClientTokenTTL)
	if o.IPRate == 0 {
		o.IPRate = DefaultClientIPRate
	}
	if o.IPBurst <= 0 {
		o.IPBurst = DefaultClientIPBurst
	}
	if o.ClientRate == 0 {
		o.ClientRate = DefaultClientIDRate
	}
	if o.ClientBurst <= 0 {
		o.ClientBurst = DefaultClientIDBurst
	}
}

// clientGrant holds the grant's limiters, per process like the login's:
// they blunt floods cheaply; the secret's 256 bits are what stops guessing.
type clientGrant struct {
	opts     ClientOptions
	byIP     *ratelimit.Keyed[string]
	byClient *ratelimit.Keyed[string]
}

func newClientGrant(opts ClientOptions, now func() time.Time) *clientGrant {
	opts.defaults()
	return &clientGrant{
		opts:     opts,
		byIP:     newLoginLimiter(opts.IPRate, opts.IPBurst, clientLimiterMaxKeys, now),
		byClient: newLoginLimiter(opts.ClientRate, opts.ClientBurst, clientLimiterMaxKeys, now),
	}
}

// ClientTokenTTL is how long a client-credentials token lives at most.
func (id *Identity) ClientTokenTTL() time.Duration { return id.clients.opts.TokenTTL }

// loadServiceAccount folds a live account.
func (id *Identity) loadServiceAccount(ctx context.Context, accountID string) (*domain.ServiceAccount, error) {
	if err := domain.ValidateID("service account id", accountID); err != nil {
		return nil, err
	}
	return id.svc.fold.ServiceAccount(ctx, accountID)
}
