package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestPolicyEndpoints(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	uid, user := e.userWithPolicy(admin, "henry", []map[string]any{
		{"effect": "allow", "actions": []string{"admin"}, "resources": []string{"users/henry"}},
	})
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users/"+uid, user.Access, nil).code)

	res := e.do(http.MethodPost, "/api/v1/policies", admin, map[string]any{
		"name": "Readers", "description": "read all",
		"statements": []map[string]any{{"effect": "ALLOW", "actions": []string{"READ", "list"}, "resources": []string{"secrets/**"}}},
	})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))
	id := res.json(t)["id"].(string)
	got := e.do(http.MethodGet, "/api/v1/policies/"+id, admin, nil)
	require.Equal(t, http.StatusOK, got.code)
	st := got.json(t)["statements"].([]any)[0].(map[string]any)
	require.Equal(t, "allow", st["effect"], "stored normalized")
	require.Equal(t, []any{"read", "list"}, st["actions"])

	list := e.do(http.MethodGet, "/api/v1/policies?limit=1", admin, nil).json(t)
	require.Len(t, list["items"], 1)
	require.NotEmpty(t, list["next_cursor"])

	// A policy change applies to its holders at once: henry loses admin on
	// himself when his policy is emptied.
	var henryPolicy string
	for _, it := range e.do(http.MethodGet, "/api/v1/policies?name=henry", admin, nil).json(t)["items"].([]any) {
		henryPolicy = it.(map[string]any)["id"].(string)
	}
	res = e.do(http.MethodPut, "/api/v1/policies/"+henryPolicy, admin, map[string]any{"statements": []any{}})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/api/v1/roles/"+domain.AdminRoleID, user.Access, nil).code)

	res = e.do(http.MethodPut, "/api/v1/policies/"+domain.AdminPolicyID, admin, map[string]any{"description": "x"})
	require.Equal(t, http.StatusUnprocessableEntity, res.code)

	res = e.do(http.MethodDelete, "/api/v1/policies/"+id, admin, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/policies/"+id, admin, nil).code)
	e.create("/api/v1/policies", admin, map[string]any{"name": "readers"})
}
