package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestAuthzCheckExplainsTheDecision(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	uid, _ := e.userWithPolicy(admin, "ivy", []map[string]any{
		{"effect": "allow", "actions": []string{"read", "list"}, "resources": []string{"secrets/dev/**"}},
		{"effect": "deny", "actions": []string{"*"}, "resources": []string{"secrets/dev/root/*"}},
	})
	cases := []struct {
		name, action, resource string
		allowed                bool
		statement              float64
		effect                 string
	}{
		{"allowed by the first statement", "read", "secrets/dev/db/password", true, 0, "allow"},
		{"deny wins over allow", "read", "secrets/dev/root/key", false, 1, "deny"},
		{"nothing matched: default deny", "write", "secrets/dev/db/password", false, -1, "deny"},
		{"other resource type", "read", "audit", false, -1, "deny"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(http.MethodPost, "/api/v1/authz/check", admin, map[string]any{"user_id": uid, "action": tc.action, "resource": tc.resource})
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			m := res.json(t)
			require.Equal(t, "ivy", m["username"])
			d := m["decision"].(map[string]any)
			require.Equal(t, tc.allowed, d["allowed"])
			require.Equal(t, tc.statement, d["statement_index"])
			require.Equal(t, tc.effect, d["effect"])
			require.NotEmpty(t, d["reason"])
			if tc.statement >= 0 {
				require.Equal(t, "ivy-policy", d["policy_name"])
			}
		})
	}
	require.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/api/v1/authz/check", admin,
		map[string]any{"user_id": domain.NewID(), "action": "read", "resource": "audit"}).code)
}

func TestDeniedAttemptsAreRecorded(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	jack, jackTokens := e.userWithPolicy(admin, "jack", []map[string]any{
		{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/**"}},
	})
	kim := e.create("/api/v1/users", admin, map[string]any{"username": "kim", "password": "open sesame 12345"})

	attempts := []struct{ method, path, resource string }{
		{http.MethodGet, "/api/v1/users/" + kim, "users/kim"},
		{http.MethodDelete, "/api/v1/users/" + kim, "users/kim"},
		{http.MethodPost, "/api/v1/authz/check", "users/kim"},
	}
	bodies := map[string]any{"/api/v1/authz/check": map[string]any{"user_id": kim, "action": "read", "resource": "audit"}}
	for _, a := range attempts {
		res := e.do(a.method, a.path, jackTokens.Access, bodies[a.path], withIP("192.0.2.77"))
		require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
	}
	res := e.do(http.MethodPost, "/api/v1/users", jackTokens.Access, map[string]any{"username": "lena", "password": "open sesame 12345"})
	require.Equal(t, http.StatusForbidden, res.code)

	events, err := e.store.ReadStream(context.Background(), domain.AccessStream(jack), 0, 100)
	require.NoError(t, err)
	require.Len(t, events, 4)
	for _, ev := range events {
		require.Equal(t, domain.EventAccessDenied, ev.Type)
		var d domain.AccessDenied
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		require.Equal(t, jack, d.UserID)
		require.Equal(t, domain.ActionAdmin, d.Action)
		require.Equal(t, jack, ev.Metadata.Actor)
	}
	require.Equal(t, "192.0.2.77", events[0].Metadata.ClientIP)
	// Lists are filtered, not refused: no denial recorded for them.
	list := e.do(http.MethodGet, "/api/v1/users", jackTokens.Access, nil).json(t)
	require.Len(t, list["items"], 1, "only jack himself")
	after, err := e.store.ReadStream(context.Background(), domain.AccessStream(jack), 0, 100)
	require.NoError(t, err)
	require.Len(t, after, 4)
}
