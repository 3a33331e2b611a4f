package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
)

// createdID decodes the id of a 201 answer.
func createdID(t *testing.T) func(status int, body []byte) string {
	return func(status int, body []byte) string { return decodeCreated(t, status, body) }
}

func decodeCreated(t *testing.T, status int, body []byte) string {
	t.Helper()
	require.Equal(t, http.StatusCreated, status, string(body))
	var out struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	require.True(t, domain.IsID(out.ID), string(body))
	return out.ID
}

// roleWith makes a policy of statements and a role holding it.
func roleWith(t *testing.T, admin *client, name string, statements []map[string]any) string {
	t.Helper()
	policy := createdID(t)(admin.do(http.MethodPost, "/api/v1/policies", map[string]any{"name": name + "-policy", "statements": statements}))
	return createdID(t)(admin.do(http.MethodPost, "/api/v1/roles", map[string]any{"name": name, "policies": []string{policy}}))
}

type issuedCredential struct {
	ID           string `json:"id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func newCredential(t *testing.T, c *client, accountID string, body map[string]any) issuedCredential {
	t.Helper()
	status, raw := c.do(http.MethodPost, "/api/v1/service-accounts/"+accountID+"/credentials", body)
	require.Equal(t, http.StatusCreated, status, string(raw))
	var out issuedCredential
	require.NoError(t, json.Unmarshal(raw, &out))
	require.True(t, strings.HasPrefix(out.ClientSecret, "svs_"), string(raw))
	require.Len(t, out.ClientID, 32)
	return out
}

// tokenRequest posts to the token endpoint: form-encoded with HTTP Basic,
// or JSON with the credentials in the body; headers are name, value pairs.
func tokenRequest(t *testing.T, base string, cred issuedCredential, basic bool, grant string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	var req *http.Request
	var err error
	if basic {
		req, err = http.NewRequest(http.MethodPost, base+"/api/v1/auth/token", strings.NewReader(url.Values{"grant_type": {grant}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(cred.ClientID), url.QueryEscape(cred.ClientSecret))
	} else {
		b, _ := json.Marshal(map[string]string{"grant_type": grant, "client_id": cred.ClientID, "client_secret": cred.ClientSecret})
		req, err = http.NewRequest(http.MethodPost, base+"/api/v1/auth/token", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	return resp, out
}

func clientToken(t *testing.T, base string, cred issuedCredential, basic bool) *client {
	t.Helper()
	resp, out := tokenRequest(t, base, cred, basic, "client_credentials")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
	require.Equal(t, "Bearer", out["token_type"])
	require.EqualValues(t, 900, out["expires_in"])
	require.NotContains(t, out, "refresh_token")
	return &client{t: t, base: base, token: out["access_token"].(string)}
}

type saEnv struct {
	inst    *instance
	admin   *client
	secrets map[string]string // name → id
}

func newSAEnv(t *testing.T) *saEnv {
	t.Helper()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	inst := d.start(t)
	admin := inst.adminClient(t)
	env := &saEnv{inst: inst, admin: admin, secrets: map[string]string{}}
	for _, name := range []string{"app/db", "app/api", "other/x"} {
		env.secrets[name] = createdID(t)(admin.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": name, "value": "value-of-" + name}))
	}
	return env
}

// TestServiceAccountEndToEnd: an admin creates a service account whose
// role reveals secrets/app/* and a credential for it; a client gets tokens
// with the grant (Basic and body forms), reads what it may and gets 403
// elsewhere; revoking the credential fails the very next request, and so do
// rotating it, disabling and deleting the account.
func TestServiceAccountEndToEnd(t *testing.T) {
	t.Parallel()
	env := newSAEnv(t)
	admin, base := env.admin, env.inst.baseURL
	role := roleWith(t, admin, "app-reader", []map[string]any{{"effect": "allow", "actions": []string{"read", "reveal"}, "resources": []string{"secrets/app/*"}}})
	accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "App", "roles": []string{role}}))

	status, body := admin.do(http.MethodGet, "/api/v1/service-accounts/"+accountID, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), `"name":"app"`)
	status, body = admin.do(http.MethodGet, "/api/v1/service-accounts?name=ap", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), accountID)

	cred := newCredential(t, admin, accountID, map[string]any{"name": "ci"})
	status, body = admin.do(http.MethodGet, "/api/v1/service-accounts/"+accountID+"/credentials", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), cred.ClientID)
	require.NotContains(t, string(body), cred.ClientSecret)
	require.NotContains(t, string(body), "secret")

	for _, basic := range []bool{true, false} {
		app := clientToken(t, base, cred, basic)
		status, body = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/db"]+"/reveal", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		require.Contains(t, string(body), "value-of-app/db")
		status, body = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["other/x"]+"/reveal", nil)
		require.Equal(t, http.StatusForbidden, status, string(body))
		status, _ = app.do(http.MethodGet, "/api/v1/users", nil)
		require.Equal(t, http.StatusOK, status) // an empty listing: it administers nobody
	}

	// A wrong secret, an unknown client, another grant type.
	wrong := cred
	wrong.ClientSecret = "svs_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	resp, out := tokenRequest(t, base, wrong, true, "client_credentials")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "invalid_client", out["error"])
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")
	unknown := issuedCredential{ClientID: strings.Repeat("0", 32), ClientSecret: cred.ClientSecret}
	resp, out = tokenRequest(t, base, unknown, false, "client_credentials")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "invalid_client", out["error"])
	resp, out = tokenRequest(t, base, cred, true, "password")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "unsupported_grant_type", out["error"])

	// Revoked: the very next request with the token fails.
	app := clientToken(t, base, cred, true)
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/api"]+"/reveal", nil)
	require.Equal(t, http.StatusOK, status)
	status, body = admin.do(http.MethodDelete, "/api/v1/service-accounts/"+accountID+"/credentials/"+cred.ID, nil)
	require.Equal(t, http.StatusNoContent, status, string(body))
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/api"]+"/reveal", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	resp, _ = tokenRequest(t, base, cred, true, "client_credentials")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Rotated: the old secret and its tokens fail, the new one works.
	cred = newCredential(t, admin, accountID, map[string]any{"name": "deploy"})
	app = clientToken(t, base, cred, false)
	status, body = admin.do(http.MethodPost, "/api/v1/service-accounts/"+accountID+"/credentials/"+cred.ID+"/rotate", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var rotated issuedCredential
	require.NoError(t, json.Unmarshal(body, &rotated))
	require.Equal(t, cred.ClientID, rotated.ClientID)
	require.NotEqual(t, cred.ClientSecret, rotated.ClientSecret)
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/db"]+"/reveal", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	resp, _ = tokenRequest(t, base, cred, false, "client_credentials")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	app = clientToken(t, base, rotated, true)

	// Disabled, then deleted: the next request fails each time.
	status, body = admin.do(http.MethodPut, "/api/v1/service-accounts/"+accountID, map[string]any{"disabled": true})
	require.Equal(t, http.StatusOK, status, string(body))
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/db"]+"/reveal", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, body = admin.do(http.MethodPut, "/api/v1/service-accounts/"+accountID, map[string]any{"disabled": false})
	require.Equal(t, http.StatusOK, status, string(body))
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/db"]+"/reveal", nil)
	require.Equal(t, http.StatusOK, status)
	status, _ = admin.do(http.MethodDelete, "/api/v1/service-accounts/"+accountID, nil)
	require.Equal(t, http.StatusNoContent, status)
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/db"]+"/reveal", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	resp, _ = tokenRequest(t, base, rotated, true, "client_credentials")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	status, _ = admin.do(http.MethodGet, "/api/v1/service-accounts/"+accountID, nil)
	require.Equal(t, http.StatusNotFound, status)

	// Every issuance is audited, under the account's name.
	status, body = admin.do(http.MethodGet, "/api/v1/audit/logs?action=auth.client_credentials", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), "service-accounts/app")
}

// TestServiceAccountCredentialRules: networks and expiry are enforced at
// the grant, and the answers say why only to a holder of the secret.
func TestServiceAccountCredentialRules(t *testing.T) {
	t.Parallel()
	env := newSAEnv(t)
	admin, base := env.admin, env.inst.baseURL
	accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "netbound"}))
	elsewhere := newCredential(t, admin, accountID, map[string]any{"name": "elsewhere", "allowed_cidrs": []string{"192.0.2.0/24"}})
	resp, out := tokenRequest(t, base, elsewhere, true, "client_credentials")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, out["error_description"], "address")
	here := newCredential(t, admin, accountID, map[string]any{"name": "here", "allowed_cidrs": []string{"127.0.0.0/8", "::1"}})
	clientToken(t, base, here, true)

	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"past expiry", map[string]any{"name": "old", "expires_at": "2000-01-01T00:00:00Z"}},
		{"bad cidr", map[string]any{"name": "x", "allowed_cidrs": []string{"300.0.0.0/8"}}},
		{"bad name", map[string]any{"name": "a/b"}},
		{"duplicate", map[string]any{"name": "here"}},
	} {
		status, body := admin.do(http.MethodPost, "/api/v1/service-accounts/"+accountID+"/credentials", tc.body)
		require.True(t, status == http.StatusBadRequest || status == http.StatusConflict, "%s: %d %s", tc.name, status, body)
	}
}

// TestServiceAccountEscalation: a user with admin on service-accounts/*
// but not the admin policy cannot give an account the admin role, nor mint
// or rotate a credential for an account more privileged than itself; it
// may still create plain accounts, give them what it holds, and revoke.
func TestServiceAccountEscalation(t *testing.T) {
	t.Parallel()
	env := newSAEnv(t)
	admin := env.admin
	mallory := newUserWith(t, admin, "mallory", []map[string]any{
		{"effect": "allow", "actions": []string{"admin"}, "resources": []string{"service-accounts/*"}},
		{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/app/*"}},
	})
	readerRole := roleWith(t, admin, "app-read", []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/app/*"}}})

	status, body := mallory.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "root", "roles": []string{domain.AdminRoleID}})
	require.Equal(t, http.StatusForbidden, status, string(body))
	require.Contains(t, string(body), "not allowed to grant")

	own := createdID(t)(mallory.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "mine", "roles": []string{readerRole}}))
	status, body = mallory.do(http.MethodPut, "/api/v1/service-accounts/"+own, map[string]any{"roles": []string{domain.AdminRoleID}})
	require.Equal(t, http.StatusForbidden, status, string(body))
	cred := newCredential(t, mallory, own, map[string]any{"name": "mine"})

	privileged := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "privileged", "roles": []string{domain.AdminRoleID}}))
	status, body = mallory.do(http.MethodPost, "/api/v1/service-accounts/"+privileged+"/credentials", map[string]any{"name": "steal"})
	require.Equal(t, http.StatusForbidden, status, string(body))
	require.Contains(t, string(body), "create a credential for service-accounts/privileged")
	adminCred := newCredential(t, admin, privileged, map[string]any{"name": "ops"})
	status, body = mallory.do(http.MethodPost, "/api/v1/service-accounts/"+privileged+"/credentials/"+adminCred.ID+"/rotate", nil)
	require.Equal(t, http.StatusForbidden, status, string(body))
	status, body = mallory.do(http.MethodPut, "/api/v1/service-accounts/"+privileged, map[string]any{"disabled": true})
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = mallory.do(http.MethodPut, "/api/v1/service-accounts/"+privileged, map[string]any{"disabled": false})
	require.Equal(t, http.StatusForbidden, status, string(body))
	status, _ = mallory.do(http.MethodDelete, "/api/v1/service-accounts/"+privileged+"/credentials/"+adminCred.ID, nil)
	require.Equal(t, http.StatusNoContent, status)

	// The account mallory made acts with what mallory gave it, no more.
	app := clientToken(t, env.inst.baseURL, cred, true)
	status, _ = app.do(http.MethodGet, "/api/v1/secrets/"+env.secrets["app/db"], nil)
	require.Equal(t, http.StatusOK, status)
	status, _ = app.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "child"})
	require.Equal(t, http.StatusForbidden, status)

	// Someone with no admin on service accounts sees none and touches none.
	nobody := newUserWith(t, admin, "nobody", []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/app/*"}}})
	status, body = nobody.do(http.MethodGet, "/api/v1/service-accounts", nil)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, string(body), own)
	status, _ = nobody.do(http.MethodGet, "/api/v1/service-accounts/"+own+"/credentials", nil)
	require.Equal(t, http.StatusForbidden, status)
}

// plantServiceAccount makes an account, a credential and a token for the
// canary test and returns the plaintexts that must never be stored,
// logged or published: the secret (and its raw bytes) and the token.
func plantServiceAccount(t *testing.T, admin *client) []string {
	t.Helper()
	accountID := createdID(t)(admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "canary-sa"}))
	cred := newCredential(t, admin, accountID, map[string]any{"name": "canary"})
	app := clientToken(t, admin.base, cred, true)
	status, body := admin.do(http.MethodPost, "/api/v1/service-accounts/"+accountID+"/credentials/"+cred.ID+"/rotate", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var rotated issuedCredential
	require.NoError(t, json.Unmarshal(body, &rotated))
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cred.ClientSecret, "svs_"))
	require.NoError(t, err)
	raw2, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(rotated.ClientSecret, "svs_"))
	require.NoError(t, err)
	return []string{cred.ClientSecret, rotated.ClientSecret, string(raw), string(raw2), app.token}
}

// TestServiceAccountHostileInput: the service-account routes and the token
// endpoint answer hostile input with a 4xx JSON error (the vault's envelope,
// or OAuth's on the token endpoint) and write nothing.
func TestServiceAccountHostileInput(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t)
	accountID := createdID(t)(e.admin.do(http.MethodPost, "/api/v1/service-accounts", map[string]any{"name": "hostile"}))
	sa := "/api/v1/service-accounts/" + accountID
	form := "application/x-www-form-urlencoded"
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	admin := []hostileCase{
		{"ServiceAccountListCursorWithNULByteAnswers400", "GET", "/api/v1/service-accounts?cursor=AA", "", nil, 400},
		{"ServiceAccountListCursorWithCapitalsAnswers400", "GET", "/api/v1/service-accounts?cursor=" + cursorOf("Admin"), "", nil, 400},
		{"ServiceAccountListCursorWithSlashAnswers400", "GET", "/api/v1/service-accounts?cursor=" + cursorOf("a/b"), "", nil, 400},
		{"ServiceAccountListNameWithNULByteAnswers400", "GET", "/api/v1/service-accounts?name=%00", "", nil, 400},
		{"ServiceAccountListNameWithInvalidUTF8Answers400", "GET", "/api/v1/service-accounts?name=%FF", "", nil, 400},
		{"ServiceAccountListLimitBeyondInt64Answers400", "GET", "/api/v1/service-accounts?limit=99999999999999999999", "", nil, 400},
		{"ServiceAccountPathIDWithNULByteAnswers400", "GET", "/api/v1/service-accounts/%00", "", nil, 400},
		{"CredentialPathIDWithInvalidUTF8Answers400", "POST", sa + "/credentials/%FF/rotate", "", nil, 400},
		{"CreateServiceAccountWithDuplicateNameKeyAnswers400", "POST", "/api/v1/service-accounts", `{"name":"a","name":"b"}`, nil, 400},
		{"CreateServiceAccountWithNULInNameAnswers400", "POST", "/api/v1/service-accounts", `{"name":"a\u0000b"}`, nil, 400},
		{"CreateServiceAccountWithSlashInNameAnswers400", "POST", "/api/v1/service-accounts", `{"name":"../admin"}`, nil, 400},
		{"CreateServiceAccountWithRoleNameForIDAnswers400", "POST", "/api/v1/service-accounts", `{"name":"x","roles":["admin"]}`, nil, 400},
		{"CreateServiceAccountWithInvalidUTF8DescriptionAnswers400", "POST", "/api/v1/service-accounts", "{\"name\":\"x\",\"description\":\"\xff\"}", nil, 400},
		{"UpdateServiceAccountWithMiscasedKeyAnswers400", "PUT", sa, `{"Roles":["` + domain.AdminRoleID + `"]}`, nil, 400},
		{"CreateCredentialWithNULInCIDRAnswers400", "POST", sa + "/credentials", `{"name":"x","allowed_cidrs":["10.0.0.0/8\u0000"]}`, nil, 400},
		{"CreateCredentialWithZonedAddressAnswers400", "POST", sa + "/credentials", `{"name":"x","allowed_cidrs":["fe80::1%eth0"]}`, nil, 400},
		{"CreateCredentialWithTooManyCIDRsAnswers400", "POST", sa + "/credentials", `{"name":"x","allowed_cidrs":[` + strings.Repeat(`"10.0.0.1",`, 32) + `"10.0.0.2"]}`, nil, 400},
		{"CreateCredentialWithBadExpiryAnswers400", "POST", sa + "/credentials", `{"name":"x","expires_at":"tomorrow"}`, nil, 400},
		{"CreateCredentialWithPastExpiryAnswers400", "POST", sa + "/credentials", `{"name":"x","expires_at":"0001-01-01T00:00:00Z"}`, nil, 400},
	}
	oauth := []hostileCase{
		{"TokenClientIDWithNULByteAnswers401", "POST", "/api/v1/auth/token", "grant_type=client_credentials&client_id=%00&client_secret=x", []string{"Content-Type", form}, 401},
		{"TokenFormWithInvalidUTF8Answers400", "POST", "/api/v1/auth/token", "grant_type=client_credentials&client_id=%FF&client_secret=x", []string{"Content-Type", form}, 400},
		{"TokenFormMalformedAnswers400", "POST", "/api/v1/auth/token", "grant_type=%zz", []string{"Content-Type", form}, 400},
		{"TokenGrantTypeTwiceAnswers400", "POST", "/api/v1/auth/token", "grant_type=client_credentials&grant_type=password", []string{"Content-Type", form, "Authorization", basic("a", "b")}, 400},
		{"TokenJSONDuplicateKeyAnswers400", "POST", "/api/v1/auth/token", `{"grant_type":"client_credentials","client_id":"a","client_id":"b","client_secret":"x"}`, nil, 400},
		{"TokenJSONUnknownKeyAnswers400", "POST", "/api/v1/auth/token", `{"grant_type":"client_credentials","client_id":"a","client_secret":"x","admin":true}`, nil, 400},
		{"TokenBasicNotBase64Answers401", "POST", "/api/v1/auth/token", "grant_type=client_credentials", []string{"Content-Type", form, "Authorization", "Basic !!!"}, 401},
		{"TokenBasicBadEscapeAnswers401", "POST", "/api/v1/auth/token", "grant_type=client_credentials", []string{"Content-Type", form, "Authorization", basic("%zz", "x")}, 401},
		{"TokenBasicWithInvalidUTF8Answers401", "POST", "/api/v1/auth/token", "grant_type=client_credentials", []string{"Content-Type", form, "Authorization", basic("\xff", "\xfe")}, 401},
		{"TokenBearerSchemeAnswers401", "POST", "/api/v1/auth/token", "grant_type=client_credentials", []string{"Content-Type", form, "Authorization", "Bearer x"}, 401},
		{"TokenSecretOfOtherShapeAnswers401", "POST", "/api/v1/auth/token", "grant_type=client_credentials&client_id=" + strings.Repeat("a", 32) + "&client_secret=svs_%00", []string{"Content-Type", form}, 401},
		{"TokenBodyOverTheLimitAnswers413", "POST", "/api/v1/auth/token", "grant_type=client_credentials&client_id=" + strings.Repeat("a", 9000), []string{"Content-Type", form}, 413},
		{"TokenLatin1BodyAnswers415", "POST", "/api/v1/auth/token", "grant_type=client_credentials", []string{"Content-Type", form + "; charset=iso-8859-1"}, 415},
		{"TokenTextBodyAnswers415", "POST", "/api/v1/auth/token", "hello", []string{"Content-Type", "text/plain"}, 415},
	}
	anonymous := &client{t: t, base: e.admin.base}
	ctx := t.Context()
	before, err := e.inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	run := func(c *client, cases []hostileCase) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				status, contentType, body := c.raw(tc.method, tc.path, tc.body, tc.headers...)
				require.Equal(t, tc.status, status, "%s %s: %s", tc.method, tc.path, body)
				require.Equal(t, "application/json", contentType)
				var answer struct {
					Error any `json:"error"`
				}
				require.NoError(t, json.Unmarshal(body, &answer), string(body))
				require.NotEmpty(t, answer.Error, string(body))
				require.NotContains(t, string(body), "internal error")
			})
		}
	}
	run(e.admin, admin)
	run(anonymous, oauth)
	after, err := e.inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused hostile request wrote to the log")
}
