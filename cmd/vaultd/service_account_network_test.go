package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
)

// TestClientTokenIsRefusedOutsideItsNetworks: a credential's allowed
// networks bind every request made with its tokens, not only the grant. A
// token obtained from 10.1.2.3 (through a trusted proxy) reads from
// 10.9.9.9, and the same token is refused (401) from 192.0.2.7 and from
// the proxy's own address; a credential without networks works from
// anywhere.
func TestClientTokenIsRefusedOutsideItsNetworks(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	d.env[config.EnvTrustedProxies] = "127.0.0.0/8,::1/128"
	inst := d.start(t)
	admin := inst.adminClient(t)
	secretID := createdID(t)(admin.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": "app/db", "value": "v"}))
	role := roleWith(t, admin, "app-reader", []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/app/*"}}})
	accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "ci", "roles": []string{role}}))
	bound := newCredential(t, admin, accountID, map[string]any{"name": "bound", "allowed_cidrs": []string{"10.0.0.0/8"}})
	open := newCredential(t, admin, accountID, map[string]any{"name": "open"})

	tokenFrom := func(cred issuedCredential, forwardedFor string) string {
		t.Helper()
		resp, out := tokenRequest(t, inst.baseURL, cred, true, "client_credentials", "X-Forwarded-For", forwardedFor)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
		return out["access_token"].(string)
	}
	read := func(token, forwardedFor string) int {
		t.Helper()
		c := &client{t: t, base: inst.baseURL, token: token}
		var headers []string
		if forwardedFor != "" {
			headers = []string{"X-Forwarded-For", forwardedFor}
		}
		status, _ := c.do(http.MethodGet, "/api/v1/secrets/"+secretID, nil, headers...)
		return status
	}

	boundToken := tokenFrom(bound, "10.1.2.3")
	openToken := tokenFrom(open, "203.0.113.9")
	for _, tc := range []struct {
		name         string
		token        string
		forwardedFor string
		want         int
	}{
		{"bound token inside its network", boundToken, "10.9.9.9", http.StatusOK},
		{"bound token from another network", boundToken, "192.0.2.7", http.StatusUnauthorized},
		{"bound token from the proxy itself", boundToken, "", http.StatusUnauthorized},
		{"open token from anywhere", openToken, "192.0.2.7", http.StatusOK},
		{"open token from the proxy", openToken, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, read(tc.token, tc.forwardedFor))
		})
	}
}
