package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/password"
	"github.com/securevault/vault/projections/serviceaccounts"
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/queries"
)

// clientEnv is an identity env with the service-account routes and the
// token endpoint mounted, an account holding the admin role and a
// credential for it.
type clientEnv struct {
	*identityEnv
	adminToken, accountID, clientID, secret string
}

func newClientEnv(t testing.TB, params password.Params) *clientEnv {
	t.Helper()
	opts := identityEnvOptions{bootstrap: true, params: params}
	opts.identity.Clients = commands.ClientOptions{IPRate: -1, ClientRate: -1}
	e := newIdentityEnv(t, opts)
	q, err := queries.NewServiceAccounts(e.reads.Service, serviceaccounts.NewReader(e.db.AppPool), streams.NewCatalog(e.db.AppPool))
	require.NoError(t, err)
	e.server.MountServiceAccounts(ServiceAccountDeps{Commands: e.ident, Queries: q})
	e.server.MountClientToken(ClientTokenDeps{Commands: e.ident})
	c := &clientEnv{identityEnv: e, adminToken: e.admin().Access}
	c.accountID = e.create("/api/v1/service-accounts", c.adminToken, map[string]any{"name": "bench", "roles": []string{domain.AdminRoleID}})
	res := e.do(http.MethodPost, "/api/v1/service-accounts/"+c.accountID+"/credentials", c.adminToken, map[string]any{"name": "ci"})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))
	require.Equal(t, "no-store", res.header.Get("Cache-Control"))
	m := res.json(t)
	c.clientID, c.secret = m["client_id"].(string), m["client_secret"].(string)
	return c
}

func basicAuth(id, secret string) reqOption {
	return withHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
}

func (c *clientEnv) grant(t testing.TB, body string, opts ...reqOption) response {
	t.Helper()
	return c.do(http.MethodPost, "/api/v1/auth/token", "", body,
		append([]reqOption{withHeader("Content-Type", "application/x-www-form-urlencoded")}, opts...)...)
}

// TestClientTokenEndpoint holds the token endpoint to RFC 6749: client
// authentication by Basic (form-urlencoded) or the body, never both; the
// grant type; section 5.2's errors, the Basic challenge on
// invalid_client, no-store on every answer.
func TestClientTokenEndpoint(t *testing.T) {
	t.Parallel()
	c := newClientEnv(t, password.Params{})
	ok := "grant_type=client_credentials"
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}.Encode()
	wrong := []byte(c.secret)
	wrong[len(commands.ClientSecretPrefix)] ^= 1                           // another letter or digit, never the same byte
	escaped := strings.ReplaceAll(url.QueryEscape(c.clientID), "a", "%61") // form-urlencoded as 2.3.1 allows
	tests := []struct {
		name   string
		body   string
		opts   []reqOption
		status int
		error  string
	}{
		{name: "basic", body: ok, opts: []reqOption{basicAuth(c.clientID, c.secret)}, status: 200},
		{name: "basic, form-urlencoded", body: ok, opts: []reqOption{basicAuth(escaped, url.QueryEscape(c.secret))}, status: 200},
		{name: "body", body: creds, status: 200},
		{name: "json body", body: `{"grant_type":"client_credentials","client_id":"` + c.clientID + `","client_secret":"` + c.secret + `"}`,
			opts: []reqOption{withHeader("Content-Type", "application/json")}, status: 200},
		{name: "scope and unknown parameters are ignored", body: creds + "&scope=anything&audience=x", status: 200},
		{name: "both methods", body: creds, opts: []reqOption{basicAuth(c.clientID, c.secret)}, status: 400, error: "invalid_request"},
		{name: "no grant type", body: "client_id=" + c.clientID + "&client_secret=" + c.secret, status: 400, error: "invalid_request"},
		{name: "another grant type", body: "grant_type=authorization_code", opts: []reqOption{basicAuth(c.clientID, c.secret)}, status: 400, error: "unsupported_grant_type"},
		{name: "a parameter twice", body: creds + "&grant_type=client_credentials", status: 400, error: "invalid_request"},
		{name: "no client authentication", body: ok, status: 401, error: "invalid_client"},
		{name: "a wrong secret", body: ok, opts: []reqOption{basicAuth(c.clientID, string(wrong))}, status: 401, error: "invalid_client"},
		{name: "a secret of another shape", body: ok, opts: []reqOption{basicAuth(c.clientID, "hunter2")}, status: 401, error: "invalid_client"},
		{name: "an unknown client", body: ok, opts: []reqOption{basicAuth(strings.Repeat("f", 32), c.secret)}, status: 401, error: "invalid_client"},
		{name: "a bearer token instead", body: ok, opts: []reqOption{withHeader("Authorization", "Bearer "+c.adminToken)}, status: 401, error: "invalid_client"},
		{name: "another media type", body: ok, opts: []reqOption{withHeader("Content-Type", "text/plain")}, status: 415, error: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.grant(t, tt.body, tt.opts...)
			require.Equal(t, tt.status, res.code, string(res.raw))
			require.Equal(t, "no-store", res.header.Get("Cache-Control"))
			m := res.json(t)
			if tt.status == http.StatusOK {
				require.Len(t, m, 3, "access_token, token_type, expires_in: no refresh token")
				require.Equal(t, "Bearer", m["token_type"])
				require.Equal(t, float64(900), m["expires_in"])
				users := c.do(http.MethodGet, "/api/v1/users", m["access_token"].(string), nil)
				require.Equal(t, http.StatusOK, users.code, string(users.raw))
				return
			}
			require.Equal(t, tt.error, m["error"], string(res.raw))
			if tt.status == http.StatusUnauthorized {
				require.True(t, strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic "), res.header.Get("WWW-Authenticate"))
			}
		})
	}

	// Tokens of the two kinds never stand in for each other.
	_, err := c.tokens.VerifyAccess(c.grant(t, creds).json(t)["access_token"].(string))
	require.Error(t, err)
	_, err = c.tokens.VerifyClient(c.adminToken)
	require.Error(t, err)

	// Every issuance is an event naming the credential and the account,
	// never the secret or the token.
	issued := 0
	for _, ev := range c.allEvents() {
		require.NotContains(t, string(ev.Data), c.secret)
		if ev.Type == domain.EventClientTokenIssued {
			issued++
			require.Equal(t, domain.ClientTokenStream(c.accountID), ev.StreamID)
			require.Equal(t, c.accountID, ev.Metadata.Actor)
		}
	}
	require.Equal(t, 6, issued) // the five 200 rows and the one above
}

// BenchmarkClientCredentials compares, in one run, a token from the
// client-credentials grant with a login at the production Argon2id
// parameters, and a request authenticated by a client token with one
// authenticated by a user token (both fold their principal per request).
func BenchmarkClientCredentials(b *testing.B) {
	c := newClientEnv(b, password.DefaultParams())
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}.Encode()
	clientTok := c.grant(b, body).json(b)["access_token"].(string)
	login := map[string]string{"username": domain.AdminUsername, "password": testAdminPassword}
	b.Run("grant=client_credentials", func(b *testing.B) {
		for b.Loop() {
			if res := c.grant(b, body); res.code != http.StatusOK {
				b.Fatalf("grant answered %d: %s", res.code, res.raw)
			}
		}
	})
	b.Run("grant=password_login", func(b *testing.B) {
		for b.Loop() {
			if res := c.do(http.MethodPost, "/api/v1/auth/login", "", login); res.code != http.StatusOK {
				b.Fatalf("login answered %d: %s", res.code, res.raw)
			}
		}
	})
	for _, tc := range []struct{ name, token string }{{"auth=user_token", c.adminToken}, {"auth=client_token", clientTok}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if res := c.do(http.MethodGet, "/api/v1/service-accounts/"+c.accountID, tc.token, nil); res.code != http.StatusOK {
					b.Fatalf("get answered %d: %s", res.code, res.raw)
				}
			}
		})
	}
}
