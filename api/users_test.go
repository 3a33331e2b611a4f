package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestUserEndpoints(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	rid := e.create("/api/v1/roles", admin, map[string]any{"name": "readers"})

	res := e.do(http.MethodPost, "/api/v1/users", admin, map[string]any{
		"username": "Carol", "email": "carol@example.com", "password": "open sesame 12345", "roles": []string{rid},
	})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))
	require.NotEmpty(t, res.header.Get(HeaderPosition))
	created := res.json(t)
	id := created["id"].(string)
	require.Equal(t, "/api/v1/users/"+id, res.header.Get("Location"))
	require.Equal(t, "carol", created["username"])
	require.Equal(t, []any{rid}, created["roles"])
	requireNoSecretFields(t, res.raw)

	// Read-your-writes: the 201 waited for the read model.
	got := e.do(http.MethodGet, "/api/v1/users/"+id, admin, nil)
	require.Equal(t, http.StatusOK, got.code, string(got.raw))
	requireNoSecretFields(t, got.raw)
	m := got.json(t)
	require.Equal(t, "carol@example.com", m["email"])
	require.Equal(t, false, m["disabled"])
	require.NotEmpty(t, m["created_by"])

	carol := e.login("carol", "open sesame 12345")
	// Carol may read herself but not list others nor read the admin.
	self := e.do(http.MethodGet, "/api/v1/users/"+id, carol.Access, nil)
	require.Equal(t, http.StatusOK, self.code)
	list := e.do(http.MethodGet, "/api/v1/users", carol.Access, nil).json(t)
	require.Len(t, list["items"], 1)

	t.Run("list paginates with a cursor and filters by name", func(t *testing.T) {
		for _, n := range []string{"dave", "dan", "erin"} {
			e.create("/api/v1/users", admin, map[string]any{"username": n, "password": "open sesame 12345"})
		}
		seen := []string{}
		cursor := ""
		for range 10 {
			page := e.do(http.MethodGet, "/api/v1/users?limit=2&cursor="+cursor, admin, nil)
			require.Equal(t, http.StatusOK, page.code, string(page.raw))
			body := page.json(t)
			for _, it := range body["items"].([]any) {
				seen = append(seen, it.(map[string]any)["username"].(string))
				requireNoSecretFields(t, page.raw)
			}
			next, _ := body["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		require.Equal(t, []string{"admin", "carol", "dan", "dave", "erin"}, seen)
		filtered := e.do(http.MethodGet, "/api/v1/users?name=da", admin, nil).json(t)
		require.Len(t, filtered["items"], 2)
		require.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/api/v1/users?limit=201", admin, nil).code)
		require.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/api/v1/users?cursor=!!!", admin, nil).code)
	})

	t.Run("update changes the fields sent; disabling revokes sessions", func(t *testing.T) {
		res := e.do(http.MethodPut, "/api/v1/users/"+id, admin, map[string]any{"email": "c@example.org"})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, "c@example.org", res.json(t)["email"])
		require.Equal(t, []any{rid}, res.json(t)["roles"], "roles untouched")
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users/"+id, carol.Access, nil).code)

		res = e.do(http.MethodPut, "/api/v1/users/"+id, admin, map[string]any{"disabled": true})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users/"+id, carol.Access, nil).code)
		require.Contains(t, e.streamTypes(domain.StreamID(domain.SessionAggregate, sessionOf(t, e, carol))), domain.EventSessionRevoked)
		require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "open sesame 12345"}).code)

		res = e.do(http.MethodPut, "/api/v1/users/"+id, admin, map[string]any{"disabled": false, "password": "a brand new secret"})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		requireNoSecretFields(t, res.raw)
		require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "open sesame 12345"}).code)
		carol = e.login("carol", "a brand new secret")

		res = e.do(http.MethodPut, "/api/v1/users/"+id, admin, map[string]any{"username": "caroline"})
		require.Equal(t, http.StatusUnprocessableEntity, res.code)
	})

	t.Run("a password change ends every other session", func(t *testing.T) {
		phone := e.login("carol", "a brand new secret")
		laptop := e.login("carol", "a brand new secret")
		// An administrator resets it: all of carol's sessions end.
		res := e.do(http.MethodPut, "/api/v1/users/"+id, admin, map[string]any{"password": "reset by the admin 1"})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		for _, s := range []tokenPair{carol, phone, laptop} {
			require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users/"+id, s.Access, nil).code)
		}
		require.Contains(t, e.streamTypes(domain.StreamID(domain.SessionAggregate, sessionOf(t, e, phone))), domain.EventSessionRevoked)

		// Changing one's own password keeps the session that did it.
		rootID := e.do(http.MethodGet, "/api/v1/users?name=admin", admin, nil).json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		other := e.login(domain.AdminUsername, testAdminPassword)
		res = e.do(http.MethodPut, "/api/v1/users/"+rootID, admin, map[string]any{"password": "the root's next secret"})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users/"+rootID, admin, nil).code, "the caller's session lives on")
		require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users/"+rootID, other.Access, nil).code)
		carol = e.login("carol", "reset by the admin 1")
	})

	t.Run("delete revokes sessions, frees the name, and the user is gone", func(t *testing.T) {
		res := e.do(http.MethodDelete, "/api/v1/users/"+id, admin, nil)
		require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
		require.NotEmpty(t, res.header.Get(HeaderPosition))
		require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/users/"+id, admin, nil).code)
		require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/v1/users/"+id, admin, nil).code)
		require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users", carol.Access, nil).code)
		again := e.create("/api/v1/users", admin, map[string]any{"username": "carol", "password": "open sesame 12345"})
		require.NotEqual(t, id, again)
	})

	t.Run("nobody deletes their own account", func(t *testing.T) {
		adminID := e.do(http.MethodGet, "/api/v1/users?name=admin", admin, nil).json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodDelete, "/api/v1/users/"+adminID, admin, nil).code)
	})
}

func sessionOf(t *testing.T, e *identityEnv, p tokenPair) string {
	t.Helper()
	c, err := e.tokens.VerifyRefresh(p.Refresh)
	require.NoError(t, err)
	return c.SessionID
}

// requireNoSecretFields fails when an answer carries a password or hash.
func requireNoSecretFields(t *testing.T, raw []byte) {
	t.Helper()
	s := strings.ToLower(string(raw))
	for _, bad := range []string{"password", "hash", "argon2"} {
		require.NotContains(t, s, bad)
	}
}

// TestBadRequestsWriteNothing sends malformed, unknown-field, oversize,
// invalid-id and rule-breaking requests: each gets a 4xx JSON error and the
// log does not move.
func TestBadRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	uid := e.create("/api/v1/users", admin, map[string]any{"username": "frank", "password": "open sesame 12345"})
	pid := e.create("/api/v1/policies", admin, map[string]any{"name": "p1"})
	rid := e.create("/api/v1/roles", admin, map[string]any{"name": "r1"})
	big := `{"username":"` + strings.Repeat("a", 2<<20) + `"}`
	missing := domain.NewID()

	cases := []struct {
		name, method, path string
		body               any
		status             int
		opts               []reqOption
	}{
		{"malformed JSON", http.MethodPost, "/api/v1/users", `{"username": "x",`, 400, nil},
		{"not an object", http.MethodPost, "/api/v1/users", `[1,2]`, 400, nil},
		{"unknown field", http.MethodPost, "/api/v1/users", `{"username":"gina","password":"open sesame 12345","is_admin":true}`, 400, nil},
		{"password_hash smuggled in", http.MethodPost, "/api/v1/users", `{"username":"gina","password_hash":"$argon2id$..."}`, 400, nil},
		{"two JSON values", http.MethodPost, "/api/v1/users", `{"username":"gina","password":"open sesame 12345"} x`, 400, nil},
		{"wrong type", http.MethodPost, "/api/v1/users", `{"username":"gina","password":"open sesame 12345","roles":"r1"}`, 400, nil},
		{"oversize body", http.MethodPost, "/api/v1/users", big, 413, nil},
		{"not JSON content type", http.MethodPost, "/api/v1/users", `{}`, 415, []reqOption{withHeader("Content-Type", "text/plain")}},
		{"empty body", http.MethodPost, "/api/v1/auth/login", ``, 400, nil},
		{"invalid username", http.MethodPost, "/api/v1/users", map[string]any{"username": "no spaces allowed", "password": "open sesame 12345"}, 400, nil},
		{"weak password", http.MethodPost, "/api/v1/users", map[string]any{"username": "gina", "password": "short"}, 422, nil},
		{"password contains username", http.MethodPost, "/api/v1/users", map[string]any{"username": "gina", "password": "gina gina gina gina"}, 422, nil},
		{"unknown role", http.MethodPost, "/api/v1/users", map[string]any{"username": "gina", "password": "open sesame 12345", "roles": []string{missing}}, 422, nil},
		{"malformed role id", http.MethodPost, "/api/v1/users", map[string]any{"username": "gina", "password": "open sesame 12345", "roles": []string{"r1"}}, 400, nil},
		{"taken username", http.MethodPost, "/api/v1/users", map[string]any{"username": "FRANK", "password": "open sesame 12345"}, 409, nil},
		{"invalid user id", http.MethodPut, "/api/v1/users/not-a-uuid", map[string]any{"email": "x@example.com"}, 400, nil},
		{"uppercase user id", http.MethodDelete, "/api/v1/users/" + strings.ToUpper(uid), nil, 400, nil},
		{"unknown user id", http.MethodPut, "/api/v1/users/" + missing, map[string]any{"email": "x@example.com"}, 404, nil},
		{"invalid email", http.MethodPut, "/api/v1/users/" + uid, map[string]any{"email": "not an address"}, 400, nil},
		{"invalid role id", http.MethodGet, "/api/v1/roles/123", nil, 400, nil},
		{"invalid policy id", http.MethodDelete, "/api/v1/policies/123", nil, 400, nil},
		{"role with unknown policy", http.MethodPost, "/api/v1/roles", map[string]any{"name": "r2", "policies": []string{missing}}, 422, nil},
		{"taken role name", http.MethodPost, "/api/v1/roles", map[string]any{"name": "R1"}, 409, nil},
		{"bad statement effect", http.MethodPost, "/api/v1/policies", map[string]any{"name": "p2", "statements": []map[string]any{{"effect": "maybe", "actions": []string{"read"}, "resources": []string{"secrets/x"}}}}, 400, nil},
		{"bad statement action", http.MethodPut, "/api/v1/policies/" + pid, map[string]any{"statements": []map[string]any{{"effect": "allow", "actions": []string{"fly"}, "resources": []string{"secrets/x"}}}}, 400, nil},
		{"unknown statement field", http.MethodPost, "/api/v1/policies", `{"name":"p2","statements":[{"effect":"allow","actions":["read"],"resources":["secrets/x"],"condition":{}}]}`, 400, nil},
		{"bad resource type", http.MethodPost, "/api/v1/policies", map[string]any{"name": "p2", "statements": []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"planets/x"}}}}, 400, nil},
		{"delete built-in admin policy", http.MethodDelete, "/api/v1/policies/" + domain.AdminPolicyID, nil, 422, nil},
		{"delete built-in admin role", http.MethodDelete, "/api/v1/roles/" + domain.AdminRoleID, nil, 422, nil},
		{"rename role onto a taken name", http.MethodPut, "/api/v1/roles/" + rid, map[string]any{"name": "admin"}, 409, nil},
		{"authz check with a bad user id", http.MethodPost, "/api/v1/authz/check", map[string]any{"user_id": "x", "action": "read", "resource": "secrets/a"}, 400, nil},
		{"authz check with a bad resource", http.MethodPost, "/api/v1/authz/check", map[string]any{"user_id": uid, "action": "read", "resource": "nowhere/a"}, 400, nil},
		{"login without password", http.MethodPost, "/api/v1/auth/login", map[string]any{"username": "frank"}, 400, nil},
		{"login with unknown field", http.MethodPost, "/api/v1/auth/login", `{"username":"frank","password":"x","otp":1}`, 400, nil},
		{"refresh without token", http.MethodPost, "/api/v1/auth/refresh", `{}`, 400, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.head()
			res := e.do(tc.method, tc.path, admin, tc.body, tc.opts...)
			require.Equal(t, tc.status, res.code, string(res.raw))
			require.NotEmpty(t, res.errorCode(t))
			require.Equal(t, before, e.head(), "nothing was written")
		})
	}
}
