package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoleEndpoints(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	p1 := e.create("/api/v1/policies", admin, map[string]any{"name": "p-one"})
	p2 := e.create("/api/v1/policies", admin, map[string]any{"name": "p-two"})

	res := e.do(http.MethodPost, "/api/v1/roles", admin, map[string]any{"name": "Ops", "description": "operators", "policies": []string{p2, p1}})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))
	id := res.json(t)["id"].(string)
	require.Equal(t, "ops", res.json(t)["name"])

	got := e.do(http.MethodGet, "/api/v1/roles/"+id, admin, nil)
	require.Equal(t, http.StatusOK, got.code, string(got.raw))
	require.ElementsMatch(t, []any{p1, p2}, got.json(t)["policies"])
	require.Equal(t, "operators", got.json(t)["description"])

	list := e.do(http.MethodGet, "/api/v1/roles?name=op", admin, nil).json(t)
	require.Len(t, list["items"], 1)
	require.Len(t, e.do(http.MethodGet, "/api/v1/roles", admin, nil).json(t)["items"], 2, "ops and the built-in admin")

	// Rename: the old name is free again, the new one taken.
	res = e.do(http.MethodPut, "/api/v1/roles/"+id, admin, map[string]any{"name": "operators", "policies": []string{p1}})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.Equal(t, []any{p1}, res.json(t)["policies"])
	require.Equal(t, "operators", e.do(http.MethodGet, "/api/v1/roles/"+id, admin, nil).json(t)["name"])
	e.create("/api/v1/roles", admin, map[string]any{"name": "ops"})
	require.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/api/v1/roles", admin, map[string]any{"name": "operators"}).code)

	res = e.do(http.MethodDelete, "/api/v1/roles/"+id, admin, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/roles/"+id, admin, nil).code)
	e.create("/api/v1/roles", admin, map[string]any{"name": "operators"})
}
