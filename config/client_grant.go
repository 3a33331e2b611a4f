package config

import "time"

// Variables of the client-credentials grant (service accounts).
const (
	EnvClientTokenTTL         = "VAULT_CLIENT_TOKEN_TTL"
	EnvClientTokenIPRate      = "VAULT_CLIENT_TOKEN_IP_RATE"
	EnvClientTokenIPBurst     = "VAULT_CLIENT_TOKEN_IP_BURST"
	EnvClientTokenClientRate  = "VAULT_CLIENT_TOKEN_CLIENT_RATE"
	EnvClientTokenClientBurst = "VAULT_CLIENT_TOKEN_CLIENT_BURST"
)

// maxClientTokenTTL bounds a client token's lifetime: the secret, not the
// token, is what a machine keeps.
const maxClientTokenTTL = 24 * time.Hour

// ClientGrant tunes POST /api/v1/auth/token.
type ClientGrant struct {
	ClientTokenTTL         time.Duration
	ClientTokenIPRate      float64
	ClientTokenIPBurst     int
	ClientTokenClientRate  float64
	ClientTokenClientBurst int
}

func (p *parser) clientGrant() ClientGrant {
	g := ClientGrant{
		ClientTokenTTL:         p.duration(EnvClientTokenTTL),
		ClientTokenIPRate:      p.float(EnvClientTokenIPRate),
		ClientTokenIPBurst:     p.int(EnvClientTokenIPBurst, 1),
		ClientTokenClientRate:  p.float(EnvClientTokenClientRate),
		ClientTokenClientBurst: p.int(EnvClientTokenClientBurst, 1),
	}
	if g.ClientTokenTTL > maxClientTokenTTL {
		p.fail(EnvClientTokenTTL, "must be at most %s", maxClientTokenTTL)
	}
	return g
}

func clientGrantVars() []Var {
	return []Var{
		{EnvClientTokenTTL, "15m", "no", "Lifetime of the access tokens the client-credentials grant (`POST /api/v1/auth/token`) issues to service accounts, at most 24h; never past the credential's expiry. No refresh token: the client asks again with its secret."},
		{EnvClientTokenIPRate, "5", "no", "Token requests per second allowed per client IP (token bucket; 429 with Retry-After beyond it)."},
		{EnvClientTokenIPBurst, "50", "no", "Token requests a client IP may make in a burst."},
		{EnvClientTokenClientRate, "2", "no", "Token requests per second allowed per client id, from any address."},
		{EnvClientTokenClientBurst, "30", "no", "Token requests one client id may make in a burst (a fleet starting at once)."},
	}
}
