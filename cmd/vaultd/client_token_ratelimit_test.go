package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
)

// TestClientTokenRateLimits: the grant is throttled per client id wherever
// its requests come from, and per client address whatever client id they
// name (429, Retry-After, OAuth's temporarily_unavailable).
func TestClientTokenRateLimits(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	d.env[config.EnvClientTokenClientRate] = "0.001"
	d.env[config.EnvClientTokenClientBurst] = "2"
	d.env[config.EnvClientTokenIPRate] = "0.001"
	d.env[config.EnvClientTokenIPBurst] = "5"
	inst := d.start(t)
	admin := inst.adminClient(t)
	accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "busy"}))
	first := newCredential(t, admin, accountID, map[string]any{"name": "first"})
	second := newCredential(t, admin, accountID, map[string]any{"name": "second"})

	throttled := func(cred issuedCredential) {
		t.Helper()
		resp, out := tokenRequest(t, inst.baseURL, cred, true, "client_credentials")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%v", out)
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		require.Equal(t, "temporarily_unavailable", out["error"])
	}
	clientToken(t, inst.baseURL, first, true)
	clientToken(t, inst.baseURL, first, false)
	throttled(first) // the client id's burst is spent
	clientToken(t, inst.baseURL, second, true)
	clientToken(t, inst.baseURL, second, true)
	throttled(issuedCredential{ClientID: strings.Repeat("e", 32), ClientSecret: "svs_x"}) // the address's burst is spent
}
