package client

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// tokenSource gives the bearer token of a request and renews it when the
// vault refused it.
type tokenSource interface {
	token(ctx context.Context) (string, error)
	// renew is told the token the vault answered 401 to; it reports
	// whether a new one is worth a retry.
	renew(ctx context.Context, refused string) bool
}

// Tokens is what a login or a refresh answers.
type Tokens struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	Expiry       time.Time `json:"-"`
}

// staticToken is a token given by the caller.
type staticToken struct{ value string }

func (s *staticToken) token(context.Context) (string, error) { return s.value, nil }
func (s *staticToken) renew(context.Context, string) bool    { return false }

// session is a password login: an access token renewed with its refresh
// token when it expires or is refused.
type session struct {
	c      *Client
	mu     sync.Mutex
	tokens Tokens
}

func (s *session) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens.RefreshToken != "" && !s.tokens.Expiry.IsZero() && !s.c.now().Before(s.tokens.Expiry) {
		if err := s.refreshLocked(ctx); err != nil {
			return "", err
		}
	}
	return s.tokens.AccessToken, nil
}

func (s *session) renew(ctx context.Context, refused string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens.AccessToken != refused {
		return true // another call renewed it meanwhile
	}
	return s.tokens.RefreshToken != "" && s.refreshLocked(ctx) == nil
}

func (s *session) refreshLocked(ctx context.Context) error {
	t, err := s.c.refresh(ctx, s.tokens.RefreshToken)
	if err != nil {
		return err
	}
	s.tokens = t
	return nil
}

// Login authenticates with a username and password (POST
// /api/v1/auth/login); the client then uses the session, refreshing it
// when its access token expires.
func (c *Client) Login(ctx context.Context, username, password string) (Tokens, error) {
	var t Tokens
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/auth/login", anonymous: true,
		body: map[string]string{"username": username, "password": password}}, &t)
	if err != nil {
		return Tokens{}, err
	}
	t.Expiry = c.expiry(t.ExpiresIn)
	c.setAuth(&session{c: c, tokens: t})
	return t, nil
}

// Refresh trades the session's refresh token for a new pair (POST
// /api/v1/auth/refresh); the old refresh token is spent.
func (c *Client) Refresh(ctx context.Context) (Tokens, error) {
	s, ok := c.source().(*session)
	if !ok {
		return Tokens{}, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "no session to refresh: log in first"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(ctx); err != nil {
		return Tokens{}, err
	}
	return s.tokens, nil
}

// WithRefreshToken resumes a session from a stored refresh token: the
// first request trades it for an access token.
func WithRefreshToken(refreshToken string) Option {
	return func(c *Client) {
		c.auth = &session{c: c, tokens: Tokens{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}}
	}
}

func (c *Client) refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	var t Tokens
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/auth/refresh", anonymous: true,
		body: map[string]string{"refresh_token": refreshToken}}, &t)
	if err != nil {
		return Tokens{}, err
	}
	t.Expiry = c.expiry(t.ExpiresIn)
	return t, nil
}

// SetToken makes the client send token from now on (not renewed).
func (c *Client) SetToken(token string) { c.setAuth(&staticToken{value: token}) }

// Logout revokes the session the client's token belongs to (POST
// /api/v1/auth/logout), on every replica at once.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/auth/logout"})
	return err
}

// expiry is when a token of ttl seconds should be renewed: a tenth of its
// life (at most a minute) early, so a request never carries one that
// expires in flight.
func (c *Client) expiry(ttl int64) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	life := time.Duration(ttl) * time.Second
	return c.now().Add(life - min(life/10, time.Minute))
}

// AccessToken is the token the client currently sends (fetching one first
// for client credentials), for tools that hand it on, such as vaultctl's
// token file.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	src := c.source()
	if src == nil {
		return "", errNoToken
	}
	return src.token(ctx)
}

// clientCredentials is the OAuth 2.0 client-credentials grant (RFC 6749
// section 4.4): no refresh token, a new access token when the last one is
// about to expire.
type clientCredentials struct {
	c                      *Client
	clientID, clientSecret string
	mu                     sync.Mutex
	access                 string
	expiry                 time.Time
}

func (cc *clientCredentials) token(ctx context.Context) (string, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.access == "" || (!cc.expiry.IsZero() && !cc.c.now().Before(cc.expiry)) {
		if err := cc.fetchLocked(ctx); err != nil {
			return "", err
		}
	}
	return cc.access, nil
}

func (cc *clientCredentials) renew(ctx context.Context, refused string) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.access != refused {
		return true
	}
	return cc.fetchLocked(ctx) == nil
}

func (cc *clientCredentials) fetchLocked(ctx context.Context) error {
	t, err := cc.c.ClientCredentialsToken(ctx, cc.clientID, cc.clientSecret)
	if err != nil {
		cc.access = ""
		return err
	}
	cc.access, cc.expiry = t.AccessToken, t.Expiry
	return nil
}

// ClientCredentialsToken asks POST /api/v1/auth/token for an access token
// with grant_type=client_credentials, the client authenticating in the
// form body. It does not change the client's own credentials.
func (c *Client) ClientCredentialsToken(ctx context.Context, clientID, clientSecret string) (Tokens, error) {
	var t Tokens
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/auth/token", anonymous: true, form: form}, &t)
	if err != nil {
		return Tokens{}, err
	}
	if t.AccessToken == "" {
		return Tokens{}, &Error{Code: CodeInternal, Message: "the token endpoint answered no access_token"}
	}
	t.Expiry = c.expiry(t.ExpiresIn)
	return t, nil
}

// Session is the current password session's tokens (false for a static
// token or client credentials), for a tool that keeps them between runs:
// a refresh spends the old refresh token, so the new pair must be saved.
func (c *Client) Session() (Tokens, bool) {
	s, ok := c.source().(*session)
	if !ok {
		return Tokens{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens, true
}

// WithSession resumes a password session from stored tokens: the access
// token is used until its expiry, then renewed with the refresh token.
func WithSession(t Tokens) Option {
	return func(c *Client) { c.auth = &session{c: c, tokens: t} }
}
