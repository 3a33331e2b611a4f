package main

import (
	"encoding/base64"
	"net/url"

	"github.com/stretchr/testify/require"
)

// serviceAccountScenarioSteps are the contract scenario's rows for service
// accounts, their credentials and the client-credentials grant; they run
// after the policies, roles and users rows ({role} is the contract reader).
func serviceAccountScenarioSteps() []step {
	sa := "/api/v1/service-accounts/{sa}"
	form := "application/x-www-form-urlencoded"
	captureCredential := func(c *contract, a *answer) {
		body := a.json(c.t)
		id, secret := body["client_id"].(string), body["client_secret"].(string)
		c.vars["sa_cred"] = body["id"].(string)
		c.vars["sa_client_id"], c.vars["sa_secret"] = id, secret
		c.vars["sa_basic"] = base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	}
	captureClientToken := func(c *contract, a *answer) {
		token, ok := a.json(c.t)["access_token"].(string)
		require.True(c.t, ok)
		c.tokens["sa"] = token
	}
	return []step{
		{name: "create a service account", as: "admin", method: post, path: "/api/v1/service-accounts", body: map[string]any{"name": "contract-app", "description": "reads contract secrets", "roles": []string{"{role}"}}, status: 201, capture: captureField("sa", "id")},
		{name: "create a taken service account name", as: "admin", method: post, path: "/api/v1/service-accounts", body: map[string]any{"name": "Contract-App"}, status: 409},
		{name: "create a service account with a role that does not exist", as: "admin", method: post, path: "/api/v1/service-accounts", body: map[string]any{"name": "contract-broken", "roles": []string{"{unknown}"}}, status: 422},
		{name: "list service accounts", as: "admin", method: get, path: "/api/v1/service-accounts?name=contract&limit=10", status: 200},
		{name: "get a service account", as: "admin", method: get, path: sa, status: 200},
		{name: "get an unknown service account", as: "admin", method: get, path: "/api/v1/service-accounts/{unknown}", status: 404},
		{name: "update a service account", as: "admin", method: put, path: sa, body: map[string]any{"description": "reads every contract secret"}, status: 200},
		{name: "rename a service account", as: "admin", method: put, path: sa, body: map[string]any{"name": "renamed"}, status: 422},
		{name: "create a credential", as: "admin", method: post, path: sa + "/credentials", body: map[string]any{"name": "ci", "expires_at": "2999-01-01T00:00:00Z", "allowed_cidrs": []string{"127.0.0.0/8", "::1"}}, status: 201, capture: captureCredential},
		{name: "create a credential of a taken name", as: "admin", method: post, path: sa + "/credentials", body: map[string]any{"name": "ci"}, status: 409},
		{name: "list credentials", as: "admin", method: get, path: sa + "/credentials", status: 200},
		{name: "rotate a credential", as: "admin", method: post, path: sa + "/credentials/{sa_cred}/rotate", status: 200, capture: captureCredential},
		{name: "rotate an unknown credential", as: "admin", method: post, path: sa + "/credentials/{unknown}/rotate", status: 404},
		{name: "client credentials by HTTP Basic", method: post, path: "/api/v1/auth/token", raw: "grant_type=client_credentials", ctype: form, headers: map[string]string{"Authorization": "Basic {sa_basic}"}, status: 200, capture: captureClientToken},
		{name: "client credentials in a JSON body", method: post, path: "/api/v1/auth/token", body: map[string]any{"grant_type": "client_credentials", "client_id": "{sa_client_id}", "client_secret": "{sa_secret}"}, status: 200},
		{name: "client credentials with a wrong secret", method: post, path: "/api/v1/auth/token", body: map[string]any{"grant_type": "client_credentials", "client_id": "{sa_client_id}", "client_secret": "svs_wrong"}, status: 401},
		{name: "client credentials without a client", method: post, path: "/api/v1/auth/token", raw: "grant_type=client_credentials", ctype: form, status: 401},
		{name: "client credentials with two methods", method: post, path: "/api/v1/auth/token", body: map[string]any{"grant_type": "client_credentials", "client_id": "{sa_client_id}"}, headers: map[string]string{"Authorization": "Basic {sa_basic}"}, status: 400},
		{name: "another grant type", method: post, path: "/api/v1/auth/token", raw: "grant_type=password", ctype: form, headers: map[string]string{"Authorization": "Basic {sa_basic}"}, status: 400},
		{name: "the service account reads a secret", as: "sa", method: get, path: "/api/v1/secrets/{db}", status: 200},
		{name: "the service account may not reveal it", as: "sa", method: get, path: "/api/v1/secrets/{db}/reveal", status: 403},
		{name: "the service account may not read itself", as: "sa", method: get, path: sa, status: 403},
		{name: "create a second credential", as: "admin", method: post, path: sa + "/credentials", body: map[string]any{"name": "spare"}, status: 201, capture: captureField("sa_spare", "id")},
		{name: "revoke a credential", as: "admin", method: del, path: sa + "/credentials/{sa_spare}", status: 204},
		{name: "revoke a revoked credential", as: "admin", method: del, path: sa + "/credentials/{sa_spare}", status: 404},
	}
}

// serviceAccountTeardownSteps delete the service account after the probes.
func serviceAccountTeardownSteps() []step {
	return []step{
		{name: "delete a service account", as: "admin", method: del, path: "/api/v1/service-accounts/{sa}", status: 204},
		{name: "a client token of a deleted account", as: "sa", method: get, path: "/api/v1/secrets/{db}", status: 401},
		{name: "delete a deleted service account", as: "admin", method: del, path: "/api/v1/service-accounts/{sa}", status: 404},
	}
}
