package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
)

// twoReplicas starts two vaultd instances over one database and log, in
// test mode, and waits until both are ready.
func twoReplicas(t *testing.T) (a, b *instance) {
	t.Helper()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	a, b = d.start(t), d.start(t)
	for _, inst := range []*instance{a, b} {
		inst.awaitReady(t, 20*time.Second)
	}
	return a, b
}

// TestRevocationOnOneReplicaIsHonouredByTheNextRequestOnAnother: two vaultd
// instances over one database, each authenticating against its own
// in-memory identity view. A logout, a disable, a password change or a
// policy edit committed on replica A is refused by the very next request on
// replica B, with no wait, no retry and no sleep in between: B proves its
// view is at least at the head of the log before it decides.
func TestRevocationOnOneReplicaIsHonouredByTheNextRequestOnAnother(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	admin := a.adminClient(t)

	status, body := admin.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": "team/db", "value": "v-" + randomText(t, 8)})
	require.Equal(t, http.StatusCreated, status, string(body))
	secretID := idOf(t, body)
	readers := []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/team/**"}}}
	status, body = admin.do(http.MethodPost, "/api/v1/policies", map[string]any{"name": "team-readers", "statements": readers})
	require.Equal(t, http.StatusCreated, status, string(body))
	policyID := idOf(t, body)
	status, body = admin.do(http.MethodPost, "/api/v1/roles", map[string]any{"name": "team-reader", "policies": []string{policyID}})
	require.Equal(t, http.StatusCreated, status, string(body))
	roleID := idOf(t, body)

	// newUser creates a user holding the role, logged in on A; its client
	// then talks to B.
	newUser := func(name string) (id string, onB *client, password string) {
		password = "pw-" + randomText(t, 16)
		status, body := admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": name, "password": password, "roles": []string{roleID}})
		require.Equal(t, http.StatusCreated, status, string(body))
		onA := &client{t: t, base: a.baseURL}
		onA.login(name, password)
		return idOf(t, body), &client{t: t, base: b.baseURL, token: onA.token}, password
	}
	get := func(c *client) int {
		status, _ := c.do(http.MethodGet, "/api/v1/secrets/"+secretID, nil)
		return status
	}

	cases := []struct {
		name string
		// revoke runs on replica A; want is B's answer to the next request.
		revoke func(t *testing.T, userID string, onB *client, password string)
		want   int
	}{
		{"logout", func(t *testing.T, _ string, onB *client, _ string) {
			onA := &client{t: t, base: a.baseURL, token: onB.token}
			status, body := onA.do(http.MethodPost, "/api/v1/auth/logout", nil)
			require.Less(t, status, 300, string(body))
		}, http.StatusUnauthorized},
		{"disable", func(t *testing.T, userID string, _ *client, _ string) {
			status, body := admin.do(http.MethodPut, "/api/v1/users/"+userID, map[string]any{"disabled": true})
			require.Equal(t, http.StatusOK, status, string(body))
		}, http.StatusUnauthorized},
		{"password change", func(t *testing.T, userID string, _ *client, _ string) {
			status, body := admin.do(http.MethodPut, "/api/v1/users/"+userID, map[string]any{"password": "reset-" + randomText(t, 16)})
			require.Equal(t, http.StatusOK, status, string(body))
		}, http.StatusUnauthorized},
		{"policy edit", func(t *testing.T, _ string, _ *client, _ string) {
			status, body := admin.do(http.MethodPut, "/api/v1/policies/"+policyID, map[string]any{"statements": []map[string]any{
				{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/other/**"}},
			}})
			require.Equal(t, http.StatusOK, status, string(body))
		}, http.StatusForbidden},
	}
	// A service account's credential revoked, and the account disabled, on
	// A: the very next request on B with a token of it is refused.
	t.Run("service account credential revoked", func(t *testing.T) {
		accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "app-revoke", "roles": []string{roleID}}))
		cred := newCredential(t, admin, accountID, map[string]any{"name": "ci"})
		onB := clientToken(t, a.baseURL, cred, true)
		onB.base = b.baseURL
		require.Equal(t, http.StatusOK, get(onB))
		status, body := admin.do(http.MethodDelete, "/api/v1/service-accounts/"+accountID+"/credentials/"+cred.ID, nil)
		require.Less(t, status, 300, string(body))
		require.Equal(t, http.StatusUnauthorized, get(onB), "the very next request on the other replica")
	})
	t.Run("service account disabled", func(t *testing.T) {
		accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "app-disable", "roles": []string{roleID}}))
		onB := clientToken(t, a.baseURL, newCredential(t, admin, accountID, map[string]any{"name": "ci"}), true)
		onB.base = b.baseURL
		require.Equal(t, http.StatusOK, get(onB))
		status, body := admin.do(http.MethodPut, "/api/v1/service-accounts/"+accountID, map[string]any{"disabled": true})
		require.Equal(t, http.StatusOK, status, string(body))
		require.Equal(t, http.StatusUnauthorized, get(onB), "the very next request on the other replica")
	})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			userID, onB, password := newUser("user" + itoa(int64(i)))
			// B has served this user before the change: its view holds the
			// user, the session and the grant.
			require.Equal(t, http.StatusOK, get(onB))
			tc.revoke(t, userID, onB, password)
			require.Equal(t, tc.want, get(onB), "the very next request on the other replica")
			require.Equal(t, tc.want, get(onB), "and every one after")
		})
	}
}
