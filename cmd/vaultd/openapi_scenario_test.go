package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/domain"
)

// TestOpenAPIContract holds the OpenAPI document a real vaultd serves
// against that vaultd: every route and method of its router is documented
// and every documented operation is routed; each route's path and query
// parameters are exactly the documented ones; then a scenario (every
// operation, successes and refusals) and probes derived from the document
// (no token, an undocumented or an invalid query parameter, a body of the
// wrong type, malformed or too large) validate every answer's status,
// headers and body against the document. Adding an endpoint means
// documenting it and adding a row to scenarioSteps.
func TestOpenAPIContract(t *testing.T) {
	t.Parallel()
	c := newContract(t)

	require.True(t, t.Run("RouterAndDocumentListTheSameOperations", func(t *testing.T) {
		c.t = t
		routed := map[string]bool{}
		require.NoError(t, c.inst.app.server.Router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			tpl, err := route.GetPathTemplate()
			if err != nil {
				return err
			}
			methods, err := route.GetMethods()
			require.NoError(t, err, "route %s has no method", tpl)
			for _, m := range methods {
				routed[m+" "+api.DocumentedPath(tpl)] = true
			}
			return nil
		}))
		documented := c.operations()
		for op := range routed {
			_, ok := documented[op]
			require.True(t, ok, "the router serves %s, which the document does not describe", op)
		}
		for op := range documented {
			require.True(t, routed[op], "the document describes %s, which the router does not serve", op)
		}
	}))

	require.True(t, t.Run("ParametersAreTheOnesHandlersRead", func(t *testing.T) {
		c.t = t
		endpoints := c.inst.app.server.Endpoints()
		require.Len(t, endpoints, len(c.operations()), "every route is registered through api.Server.handle")
		for _, e := range endpoints {
			key := e.Method + " " + e.Path
			vars := pathVars(e.Path)
			require.ElementsMatch(t, vars, slices.Collect(maps.Keys(c.parameters(key, openapi3.ParameterInPath))), "%s: path parameters", key)
			query := slices.Collect(maps.Keys(c.parameters(key, openapi3.ParameterInQuery)))
			if e.AnyQuery {
				require.Empty(t, query, "%s ignores its query string; it documents no query parameter", key)
				continue
			}
			require.ElementsMatch(t, e.Query, query, "%s: the query parameters the route accepts against the documented ones", key)
		}
	}))

	require.True(t, t.Run("Scenario", func(t *testing.T) {
		c.t = t
		for _, s := range concatSteps(scenarioSteps(), accountEmailSteps(), fileScenarioSteps()) {
			c.run(s)
		}
		// An account's logins are throttled: 401 until the burst is spent,
		// then 429 with Retry-After.
		throttled := step{name: "throttled login", method: http.MethodPost, path: "/api/v1/auth/login",
			body: map[string]any{"username": "throttled", "password": "not-the-password"}}
		var last int
		for range 20 {
			last = c.exchange(throttled).status
			if last == http.StatusTooManyRequests {
				break
			}
			require.Equal(t, http.StatusUnauthorized, last)
		}
		require.Equal(t, http.StatusTooManyRequests, last)
	}))

	require.True(t, t.Run("ProbesDerivedFromTheDocument", func(t *testing.T) {
		c.t = t
		for _, s := range c.probes() {
			c.run(s)
		}
		// A method no path documents answers 405 with the documented ones
		// in Allow (405 is the router's answer, outside every operation).
		for path, item := range c.doc.Paths.Map() {
			req, err := http.NewRequest(http.MethodOptions, c.inst.baseURL+c.fill(probePath(path)), nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+c.tokens["admin"])
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, path)
			require.ElementsMatch(t, slices.Collect(maps.Keys(item.Operations())), strings.Split(resp.Header.Get("Allow"), ", "), "%s: Allow", path)
		}
	}))

	require.True(t, t.Run("Teardown", func(t *testing.T) {
		c.t = t
		for _, s := range teardownSteps() {
			c.run(s)
		}
	}))

	t.Run("EveryOperationWasExercised", func(t *testing.T) {
		c.t = t
		for op := range c.operations() {
			succeeded := false
			for status := range c.seen[op] {
				succeeded = succeeded || status < 400
			}
			require.True(t, succeeded, "no scenario step made %s succeed: add one to scenarioSteps", op)
		}
		t.Logf("statuses exercised per operation:\n%s", c.summary())
	})
}

// pathVars are the {names} of a route template.
func pathVars(tpl string) []string {
	var out []string
	for part := range strings.SplitSeq(tpl, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			name, _, _ := strings.Cut(part[1:len(part)-1], ":")
			out = append(out, name)
		}
	}
	return out
}

// exchange is run without the status assertion, for steps whose status
// the caller decides.
func (c *contract) exchange(s step) *answer {
	c.t.Helper()
	s.status = -1
	return c.run(s)
}

const (
	get  = http.MethodGet
	post = http.MethodPost
	put  = http.MethodPut
	del  = http.MethodDelete
)

// Captures read a response into the vars later steps use.
func captureField(name, field string) func(*contract, *answer) {
	return func(c *contract, a *answer) {
		v, ok := a.json(c.t)[field]
		require.True(c.t, ok, "no %q in %s", field, a.body)
		c.vars[name] = fmt.Sprint(v)
	}
}

func capturePosition(name string) func(*contract, *answer) {
	return func(c *contract, a *answer) {
		c.vars[name] = a.header.Get("X-Vault-Position")
		require.NotEmpty(c.t, c.vars[name])
	}
}

func captureTokens(actor string) func(*contract, *answer) {
	return func(c *contract, a *answer) {
		m := a.json(c.t)
		c.tokens[actor] = m["access_token"].(string)
		c.vars[actor+"_refresh"] = m["refresh_token"].(string)
	}
}

func captureAll(fs ...func(*contract, *answer)) func(*contract, *answer) {
	return func(c *contract, a *answer) {
		for _, f := range fs {
			f(c, a)
		}
	}
}

func login(name, username, password string, status int, capture func(*contract, *answer)) step {
	return step{name: name, method: post, path: "/api/v1/auth/login",
		body: map[string]any{"username": username, "password": password}, status: status, capture: capture}
}

const (
	readerPassword = "correct-staple-of-2026"
	adminRoleID    = domain.AdminRoleID
)

// scenarioSteps drive every operation over the real server: the rows are
// the API's walkthrough, its refusals included.
func scenarioSteps() []step {
	unknown := uuid.NewString()
	secret := "/api/v1/secrets/{db}"
	return concatSteps([]step{
		// Operations and the document itself.
		{name: "liveness", method: get, path: "/healthz", status: 200},
		{name: "readiness", method: get, path: "/readyz", status: 200},
		{name: "metrics", method: get, path: "/metrics", status: 200},
		{name: "the document", method: get, path: "/api/v1/openapi.json", status: 200, capture: func(c *contract, a *answer) {
			c.vars["etag"] = a.header.Get("ETag")
			c.vars["unknown"] = unknown
		}},
		{name: "the document, unchanged", method: get, path: "/api/v1/openapi.json", headers: map[string]string{"If-None-Match": "{etag}"}, status: 304},

		// Sessions.
		login("login", "admin", testAdminPassword, 200, captureTokens("admin")),
		login("login with a wrong password", "admin", "not-the-password", 401, nil),
		login("login without a password", "admin", "", 400, nil),
		login("a second session", "admin", testAdminPassword, 200, captureTokens("second")),
		{name: "refresh", method: post, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": "{second_refresh}"}, status: 200},
		{name: "refresh with a spent token", method: post, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": "{second_refresh}"}, status: 401},
		login("a third session", "admin", testAdminPassword, 200, captureTokens("third")),
		{name: "logout", as: "third", method: post, path: "/api/v1/auth/logout", status: 204},
		{name: "a token after logout", as: "third", method: get, path: "/api/v1/status", status: 401},
		{name: "the caller's id", as: "admin", method: get, path: "/api/v1/users?name=admin", status: 200, capture: func(c *contract, a *answer) {
			items := a.json(c.t)["items"].([]any)
			require.Len(c.t, items, 1)
			c.vars["admin_id"] = items[0].(map[string]any)["id"].(string)
		}},

		// Secrets.
		{name: "create the probes' secret", as: "admin", method: post, path: "/api/v1/secrets", body: map[string]any{"name": "contract/probe", "value": "probe-value"}, status: 201, capture: captureField("probe", "id")},
		{name: "create", as: "admin", method: post, path: "/api/v1/secrets", body: map[string]any{"name": "contract/db/password", "value": "s3cr3t-v1", "description": "the database", "tags": []string{"env:prod"}}, status: 201,
			capture: captureAll(captureField("db", "id"), capturePosition("db_created"))},
		{name: "create a taken name", as: "admin", method: post, path: "/api/v1/secrets", body: map[string]any{"name": "Contract/DB/password", "value": "x"}, status: 409},
		{name: "create a value over 64 KiB", as: "admin", method: post, path: "/api/v1/secrets", body: map[string]any{"name": "contract/huge", "value": strings.Repeat("x", 64<<10+1)}, status: 422},
		{name: "create a traversal name", as: "admin", method: post, path: "/api/v1/secrets", body: map[string]any{"name": "contract/../etc", "value": "x"}, status: 400},
		{name: "list", as: "admin", method: get, path: "/api/v1/secrets?prefix=contract/", status: 200},
		{name: "list a page", as: "admin", method: get, path: "/api/v1/secrets?prefix=contract/&limit=1", status: 200, capture: captureField("secrets_cursor", "next_cursor")},
		{name: "list the next page", as: "admin", method: get, path: "/api/v1/secrets?prefix=contract/&limit=1&cursor={secrets_cursor}", status: 200},
		{name: "list by tag", as: "admin", method: get, path: "/api/v1/secrets?tag=env:prod", status: 200},
		{name: "get", as: "admin", method: get, path: secret, status: 200},
		{name: "get an unknown secret", as: "admin", method: get, path: "/api/v1/secrets/{unknown}", status: 404},
		{name: "get once the read model has a write", as: "admin", method: get, path: secret, headers: map[string]string{"X-Vault-Min-Position": "{db_created}"}, status: 200},
		{name: "get beyond the head of the log", as: "admin", method: get, path: secret, headers: map[string]string{"X-Vault-Min-Position": "999999999"}, status: 400},
		{name: "rotate if still version 1", as: "admin", method: put, path: secret + "/rotate", headers: map[string]string{"If-Match": `"1"`}, body: map[string]any{"value": "s3cr3t-v2"}, status: 200},
		{name: "rotate if still version 1, again", as: "admin", method: put, path: secret + "/rotate", headers: map[string]string{"If-Match": `"1"`}, body: map[string]any{"value": "s3cr3t-v3"}, status: 412},
		{name: "rotate with a malformed If-Match", as: "admin", method: put, path: secret + "/rotate", headers: map[string]string{"If-Match": "version one"}, body: map[string]any{"value": "x"}, status: 400},
		{name: "rotate to a generated value", as: "admin", method: put, path: secret + "/rotate", body: map[string]any{"generate": map[string]any{"length": 32, "charset": "hex"}}, status: 200},
		{name: "versions", as: "admin", method: get, path: secret + "/versions", status: 200},
		{name: "reveal", as: "admin", method: get, path: secret + "/reveal", status: 200},
		{name: "reveal version 1", as: "admin", method: get, path: secret + "/reveal?version=1", status: 200},
		{name: "destroy version 1", as: "admin", method: post, path: secret + "/versions/1/destroy", status: 204},
		{name: "reveal a destroyed version", as: "admin", method: get, path: secret + "/reveal?version=1", status: 410},
		{name: "reveal a version that never was", as: "admin", method: get, path: secret + "/reveal?version=99", status: 404},
		{name: "destroy a version that is not a number", as: "admin", method: post, path: secret + "/versions/first/destroy", status: 404},
		{name: "delete", as: "admin", method: del, path: secret, status: 204},
		{name: "rotate a deleted secret", as: "admin", method: put, path: secret + "/rotate", body: map[string]any{"value": "x"}, status: 410},
		{name: "reveal a deleted secret", as: "admin", method: get, path: secret + "/reveal", status: 410},
		{name: "list with the deleted", as: "admin", method: get, path: "/api/v1/secrets?prefix=contract/&include_deleted=true", status: 200},
		{name: "restore", as: "admin", method: post, path: secret + "/restore", status: 200, capture: func(c *contract, a *answer) {
			capturePosition("db_restored")(c, a)
			c.vars["now"] = time.Now().UTC().Format(time.RFC3339Nano)
		}},
		{name: "history", as: "admin", method: get, path: secret + "/history", status: 200},
		{name: "history, a page", as: "admin", method: get, path: secret + "/history?limit=2", status: 200, capture: captureField("history_cursor", "next_cursor")},
		{name: "history, the next page", as: "admin", method: get, path: secret + "/history?limit=2&cursor={history_cursor}", status: 200},
		{name: "history up to an instant", as: "admin", method: get, path: secret + "/history?at_position={db_created}", status: 200},
		{name: "diff since creation", as: "admin", method: get, path: secret + "/diff?from={db_created}", status: 200},
		{name: "diff between two instants", as: "admin", method: get, path: secret + "/diff?from={db_created}&to={db_restored}", status: 200},
		{name: "diff without from", as: "admin", method: get, path: secret + "/diff", status: 400},
		{name: "get as of its creation", as: "admin", method: get, path: secret + "?at_position={db_created}", status: 200},
		{name: "get as of a time", as: "admin", method: get, path: secret + "?as_of={now}", status: 200},
		{name: "get before it existed", as: "admin", method: get, path: secret + "?at_position=1", status: 404},
		{name: "get as of the future", as: "admin", method: get, path: secret + "?as_of=2999-01-01T00:00:00Z", status: 400},
		{name: "list as of its creation", as: "admin", method: get, path: "/api/v1/secrets?prefix=contract/&at_position={db_created}", status: 200},
		{name: "versions as of its creation", as: "admin", method: get, path: secret + "/versions?at_position={db_created}", status: 200},
		// By name, edits and rollbacks, batch reveals (secretScenarioSteps).
	}, secretClientSteps(secret), []step{

		// Policies, roles, users.
		{name: "create a policy", as: "admin", method: post, path: "/api/v1/policies", body: map[string]any{"name": "contract-reader", "description": "reads contract secrets",
			"statements": []any{map[string]any{"effect": "allow", "actions": []string{"read", "list"}, "resources": []string{"secrets/contract/**"}}}}, status: 201,
			capture: captureAll(captureField("policy", "id"), capturePosition("policy_created"))},
		{name: "create a taken policy name", as: "admin", method: post, path: "/api/v1/policies", body: map[string]any{"name": "contract-reader", "statements": []any{}}, status: 409},
		{name: "create a role", as: "admin", method: post, path: "/api/v1/roles", body: map[string]any{"name": "contract-reader", "policies": []string{"{policy}"}}, status: 201, capture: captureField("role", "id")},
		{name: "create a role with a policy that does not exist", as: "admin", method: post, path: "/api/v1/roles", body: map[string]any{"name": "contract-broken", "policies": []string{"{unknown}"}}, status: 422},
		{name: "create a user", as: "admin", method: post, path: "/api/v1/users", body: map[string]any{"username": "reader", "email": "reader@example.com", "password": readerPassword, "roles": []string{"{role}"}}, status: 201,
			capture: captureAll(captureField("reader", "id"), capturePosition("reader_created"))},
		{name: "create a user with a short password", as: "admin", method: post, path: "/api/v1/users", body: map[string]any{"username": "weak", "password": "short"}, status: 422},
		{name: "create a taken username", as: "admin", method: post, path: "/api/v1/users", body: map[string]any{"username": "READER", "password": readerPassword + "-x"}, status: 409},
		{name: "list users", as: "admin", method: get, path: "/api/v1/users?name=read", status: 200},
		{name: "list users, a page", as: "admin", method: get, path: "/api/v1/users?limit=1", status: 200, capture: captureField("users_cursor", "next_cursor")},
		{name: "list users, the next page", as: "admin", method: get, path: "/api/v1/users?limit=1&cursor={users_cursor}", status: 200},
		{name: "get a user", as: "admin", method: get, path: "/api/v1/users/{reader}", status: 200},
		{name: "get an unknown user", as: "admin", method: get, path: "/api/v1/users/{unknown}", status: 404},
		{name: "get a user by a malformed id", as: "admin", method: get, path: "/api/v1/users/not-a-uuid", status: 400},
		{name: "update a user", as: "admin", method: put, path: "/api/v1/users/{reader}", body: map[string]any{"email": "reader@corp.example"}, status: 200},
		{name: "rename a user", as: "admin", method: put, path: "/api/v1/users/{reader}", body: map[string]any{"username": "renamed"}, status: 422},
		{name: "get a user as it was created", as: "admin", method: get, path: "/api/v1/users/{reader}?at_position={reader_created}", status: 200},
		{name: "list users as of a time", as: "admin", method: get, path: "/api/v1/users?as_of={now}", status: 200},
		{name: "list roles", as: "admin", method: get, path: "/api/v1/roles", status: 200},
		{name: "get a role", as: "admin", method: get, path: "/api/v1/roles/{role}", status: 200},
		{name: "update a role", as: "admin", method: put, path: "/api/v1/roles/{role}", body: map[string]any{"description": "reads contract secrets"}, status: 200},
		{name: "get a role before it existed", as: "admin", method: get, path: "/api/v1/roles/{role}?at_position={policy_created}", status: 404},
		{name: "list roles as of a position", as: "admin", method: get, path: "/api/v1/roles?at_position={reader_created}", status: 200},
		{name: "delete the built-in admin role", as: "admin", method: del, path: "/api/v1/roles/" + adminRoleID, status: 422},
		{name: "list policies", as: "admin", method: get, path: "/api/v1/policies?name=contract", status: 200},
		{name: "get a policy", as: "admin", method: get, path: "/api/v1/policies/{policy}", status: 200},
		{name: "update a policy", as: "admin", method: put, path: "/api/v1/policies/{policy}", body: map[string]any{"description": "reads every contract secret"}, status: 200},
		{name: "get a policy as it was created", as: "admin", method: get, path: "/api/v1/policies/{policy}?at_position={policy_created}", status: 200},
		{name: "list policies as of a position", as: "admin", method: get, path: "/api/v1/policies?at_position={policy_created}", status: 200},
		{name: "delete one's own account", as: "admin", method: del, path: "/api/v1/users/{admin_id}", status: 422},

		// What a reader may and may not do.
		login("the reader logs in", "reader", readerPassword, 200, captureTokens("reader")),
		{name: "the reader reads a secret", as: "reader", method: get, path: secret, status: 200},
		{name: "the reader may not reveal it", as: "reader", method: get, path: secret + "/reveal", status: 403},
		{name: "the reader may not create a secret", as: "reader", method: post, path: "/api/v1/secrets", body: map[string]any{"name": "contract/mine", "value": "x"}, status: 403},
		{name: "the reader reads itself", as: "reader", method: get, path: "/api/v1/users/{reader}", status: 200},
		{name: "the reader may not read the admin", as: "reader", method: get, path: "/api/v1/users/{admin_id}", status: 403},
		{name: "the reader may not change a policy", as: "reader", method: put, path: "/api/v1/policies/{policy}", body: map[string]any{"description": "mine now"}, status: 403},
		{name: "the reader may not read the audit log", as: "reader", method: get, path: "/api/v1/audit/logs", status: 403},
		{name: "the reader may not see the status", as: "reader", method: get, path: "/api/v1/status", status: 403},
	}, readerClientSteps(secret), []step{

		// Access checks.
		{name: "check access", as: "admin", method: post, path: "/api/v1/authz/check", body: map[string]any{"user_id": "{reader}", "action": "read", "resource": "secrets/contract/db/password"}, status: 200},
		{name: "check access as of a time", as: "admin", method: post, path: "/api/v1/authz/check", body: map[string]any{"user_id": "{reader}", "action": "reveal", "resource": "secrets/contract/db/password", "as_of": "{now}"}, status: 404},
		{name: "check access for an unknown user", as: "admin", method: post, path: "/api/v1/authz/check", body: map[string]any{"user_id": "{unknown}", "action": "read", "resource": "secrets/x"}, status: 404},
		{name: "check access without an action", as: "admin", method: post, path: "/api/v1/authz/check", body: map[string]any{"user_id": "{reader}", "resource": "secrets/x"}, status: 400},
		{name: "check a grant the admin covers", as: "admin", method: post, path: "/api/v1/authz/check", body: map[string]any{"grant": map[string]any{"statements": []any{map[string]any{"effect": "allow", "actions": []any{"read"}, "resources": []any{"secrets/contract/**"}}}}, "target": "roles/contract"}, status: 200},
		{name: "check a grant the reader lacks", as: "reader", method: post, path: "/api/v1/authz/check", body: map[string]any{"grant": map[string]any{"statements": []any{map[string]any{"effect": "allow", "actions": []any{"*"}, "resources": []any{"**"}}}}}, status: 200},
		{name: "check a grant with an action as well", as: "admin", method: post, path: "/api/v1/authz/check", body: map[string]any{"grant": map[string]any{}, "action": "read"}, status: 400},
		{name: "the reader may not check access", as: "reader", method: post, path: "/api/v1/authz/check", body: map[string]any{"user_id": "{admin_id}", "action": "read", "resource": "secrets/x"}, status: 403},

		// The audit log.
		{name: "audit, a page", as: "admin", method: get, path: "/api/v1/audit/logs?limit=2", status: 200, capture: captureField("audit_cursor", "next_cursor")},
		{name: "audit, the next page", as: "admin", method: get, path: "/api/v1/audit/logs?limit=2&cursor={audit_cursor}", status: 200},
		{name: "audit, the reader's refusals", as: "admin", method: get, path: "/api/v1/audit/logs?outcome=denied&user=reader", status: 200},
		{name: "audit, every filter", as: "admin", method: get, path: "/api/v1/audit/logs?user=admin&action=secret.reveal&resource_type=secrets&resource_id={db}" +
			"&outcome=allowed&ip=127.0.0.0%2F8&since=2020-01-01T00:00:00Z&until=2999-01-01T00:00:00Z", status: 200},
		{name: "audit as CSV", as: "admin", method: get, path: "/api/v1/audit/logs?format=csv&outcome=denied", status: 200},
		{name: "audit as NDJSON", as: "admin", method: get, path: "/api/v1/audit/logs?format=ndjson", status: 200},
		{name: "audit as NDJSON by Accept", as: "admin", method: get, path: "/api/v1/audit/logs?user=reader", headers: map[string]string{"Accept": "application/x-ndjson"}, status: 200},
		{name: "audit once the read model has a write", as: "admin", method: get, path: "/api/v1/audit/logs?limit=1", headers: map[string]string{"X-Vault-Min-Position": "{reader_created}"}, status: 200},
		{name: "status", as: "admin", method: get, path: "/api/v1/status", status: 200},
	}, serviceAccountScenarioSteps())
}

// teardownSteps delete what the scenario made, after the probes used it.
func teardownSteps() []step {
	return append(serviceAccountTeardownSteps(), []step{
		{name: "delete a user", as: "admin", method: del, path: "/api/v1/users/{reader}", status: 204},
		{name: "get a deleted user", as: "admin", method: get, path: "/api/v1/users/{reader}", status: 404},
		{name: "delete a role", as: "admin", method: del, path: "/api/v1/roles/{role}", status: 204},
		{name: "delete a deleted role", as: "admin", method: del, path: "/api/v1/roles/{role}", status: 404},
		{name: "delete a policy", as: "admin", method: del, path: "/api/v1/policies/{policy}", status: 204},
		{name: "logout", as: "admin", method: post, path: "/api/v1/auth/logout", status: 204},
		{name: "logged out", as: "admin", method: get, path: "/api/v1/secrets", status: 401},
	}...)
}

// probePath fills an operation's path template with resources that exist.
func probePath(tpl string) string {
	r := strings.NewReplacer("/secrets/{id}", "/secrets/{probe}", "/by-name/{name}", "/by-name/contract%2Fprobe", "/users/{id}", "/users/{reader}", "/roles/{id}", "/roles/{role}",
		"/policies/{id}", "/policies/{policy}", "/files/{id}", "/files/{file_probe}", "{version}", "1",
		"/service-accounts/{id}", "/service-accounts/{sa}", "{credential_id}", "{sa_cred}")
	return r.Replace(tpl)
}

// probes are requests derived from the document for every operation, each
// refused before it changes anything: without a token (when one is
// needed), with an undocumented query parameter, with each documented
// query parameter and header invalid, and with a body of another media
// type, malformed or too large.
func (c *contract) probes() []step {
	// invalidQuery is a value each query parameter refuses with a 400
	// naming it; validQuery fills the required parameters a probe does not
	// target.
	invalidQuery := map[string]string{
		"as_of": "yesterday", "at_position": "-1", "limit": "0", "cursor": "!", "prefix": "../x", "tag": "Not A Tag",
		"include_deleted": "maybe", "name": "a/b", "version": "0", "from": "yesterday", "to": "yesterday",
		"user": "no one", "action": "no action", "resource_type": "no type", "resource_id": "\x01", "outcome": "ok",
		"ip": "not-an-ip", "since": "yesterday", "until": "yesterday", "format": "xml", "token": "!",
	}
	validQuery := map[string]string{"from": "1"}
	// Where a parameter means something else on one operation, its invalid
	// value there (a file upload's name is a path: a/b is a fine one).
	invalidQueryFor := map[string]map[string]string{"POST /api/v1/files": {"name": "a/../b"}}
	var out []step
	endpoints := map[string]bool{}
	for _, e := range c.inst.app.server.Endpoints() {
		endpoints[e.Method+" "+e.Path] = e.AnyQuery
	}
	ops := c.operations()
	for _, key := range slices.Sorted(maps.Keys(ops)) {
		op := ops[key]
		method, tpl, _ := strings.Cut(key, " ")
		path := probePath(tpl)
		probe := func(name, as, query string, status int) step {
			target := path
			if query != "" {
				target += "?" + query
			}
			return step{name: key + ": " + name, as: as, method: method, path: target, status: status}
		}
		if c.secured(op) {
			out = append(out, probe("no token", "", "", http.StatusUnauthorized))
		}
		if endpoints[key] {
			out = append(out, probe("an ignored query parameter", "admin", "undocumented=1", http.StatusOK))
			continue
		}
		out = append(out, probe("an undocumented query parameter", "admin", "undocumented=1", http.StatusBadRequest))
		params := c.parameters(key, openapi3.ParameterInQuery)
		for _, name := range slices.Sorted(maps.Keys(params)) {
			bad, ok := invalidQuery[name]
			if v, special := invalidQueryFor[key][name]; special {
				bad = v
			}
			require.True(c.t, ok, "%s: add an invalid value of query parameter %q to invalidQuery", key, name)
			q := url.Values{name: {bad}}
			for other, p := range params {
				if other != name && p.Required {
					q.Set(other, validQuery[other])
				}
			}
			s := probe("invalid "+name, "admin", q.Encode(), http.StatusBadRequest)
			s.capture = func(c *contract, a *answer) {
				msg := a.errorMessage(c.t)
				require.Contains(c.t, msg, name, "%s: the refusal names the parameter", s.name)
				require.NotContains(c.t, msg, "unknown query parameter", "%s: the handler reads the parameter", s.name)
			}
			out = append(out, s)
		}
		if _, ok := c.parameters(key, openapi3.ParameterInHeader)["X-Vault-Min-Position"]; ok {
			s := probe("invalid X-Vault-Min-Position", "admin", "", http.StatusBadRequest)
			s.headers = map[string]string{"X-Vault-Min-Position": "-1"}
			out = append(out, s)
		}
		// Bodies that are not JSON (file uploads) have rows of their own.
		if op.RequestBody != nil && op.RequestBody.Value.Content.Get("application/json") != nil {
			for _, b := range []struct {
				name, ctype, raw string
				status           int
			}{
				{"a text body", "text/plain", "hello", http.StatusUnsupportedMediaType},
				{"malformed JSON", "application/json", "{", http.StatusBadRequest},
				{"a body over the limit", "application/json", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
			} {
				s := probe(b.name, "admin", "", b.status)
				s.ctype, s.raw = b.ctype, b.raw
				out = append(out, s)
			}
		}
	}
	return out
}
