package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
)

// raw sends body exactly as given (the client's do marshals), with the
// headers in pairs, and returns the status, Content-Type and body.
func (c *client) raw(method, path, body string, headers ...string) (int, string, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

func cursorOf(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hostileEnv is one vaultd with the admin and a secret, so every list and
// lookup has something to page through.
type hostileEnv struct {
	inst     *instance
	admin    *client
	secretID string
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	inst := d.start(t)
	admin := inst.adminClient(t)
	status, body := admin.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": "prod/db/password", "value": "s3cr3t"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var sec struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &sec))
	return &hostileEnv{inst: inst, admin: admin, secretID: sec.ID}
}

// newUserWith creates a user holding one policy of statements and returns
// a client logged in as it.
func newUserWith(t *testing.T, admin *client, username string, statements []map[string]any) *client {
	t.Helper()
	decodeID := func(status int, body []byte) string {
		t.Helper()
		require.Equal(t, http.StatusCreated, status, string(body))
		var out struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(body, &out))
		return out.ID
	}
	policy := decodeID(admin.do(http.MethodPost, "/api/v1/policies", map[string]any{"name": username + "-policy", "statements": statements}))
	role := decodeID(admin.do(http.MethodPost, "/api/v1/roles", map[string]any{"name": username + "-role", "policies": []string{policy}}))
	password := "pass-phrase-of-" + randomText(t, 16)
	decodeID(admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": username, "password": password, "roles": []string{role}}))
	c := &client{t: t, base: admin.base}
	c.login(username, password)
	return c
}

// hostileCase is one request an attacker sends and the 4xx it must get
// (or the 200 an odd but valid value gets).
type hostileCase struct {
	name    string // the attack, as the subtest name
	method  string
	path    string
	body    string
	headers []string
	status  int
}

// TestHostileInputAnswers4xxNever5xx sends, to every list and filter
// endpoint (current state and time travel), every lookup by path id, and
// the headers and JSON bodies that reach the database, values that used to
// get through to PostgreSQL (NUL bytes, invalid UTF-8, cursors that decode
// to either, traversal) or that encoding/json used to read silently
// (duplicate and miscased keys). Each must answer its 4xx with a JSON error
// body, and nothing may be written.
func TestHostileInputAnswers4xxNever5xx(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t)
	id := e.secretID
	nulCursor := "AA" // base64url of a NUL byte
	cases := []hostileCase{
		// Secret listing, current state (the read model).
		{"SecretListCursorWithNULByteAnswers400", "GET", "/api/v1/secrets?cursor=" + nulCursor, "", nil, 400},
		{"SecretListCursorWithInvalidUTF8Answers400", "GET", "/api/v1/secrets?cursor=_w", "", nil, 400},
		{"SecretListCursorWithTraversalAnswers400", "GET", "/api/v1/secrets?cursor=" + cursorOf("prod/../x"), "", nil, 400},
		{"SecretListCursorWithLineBreakAnswers400", "GET", "/api/v1/secrets?cursor=" + cursorOf("prod/x") + "%0A", "", nil, 400},
		{"SecretListPrefixWithNULByteAnswers400", "GET", "/api/v1/secrets?prefix=%00", "", nil, 400},
		{"SecretListPrefixWithInvalidUTF8Answers400", "GET", "/api/v1/secrets?prefix=%FF", "", nil, 400},
		{"SecretListPrefixWithOverlongNULAnswers400", "GET", "/api/v1/secrets?prefix=%C0%80", "", nil, 400},
		{"SecretListPrefixWithTraversalAnswers400", "GET", "/api/v1/secrets?prefix=prod/../", "", nil, 400},
		{"SecretListTagWithNULByteAnswers400", "GET", "/api/v1/secrets?tag=%00", "", nil, 400},
		// Secret listing as of a past instant (folded from the log).
		{"SecretListAsOfCursorWithNULByteAnswers400", "GET", "/api/v1/secrets?at_position=1&cursor=" + nulCursor, "", nil, 400},
		{"SecretListAsOfCursorOfAnotherListingAnswers400", "GET", "/api/v1/secrets?at_position=1&cursor=" + cursorOf("prod/db/password"), "", nil, 400},
		{"SecretListAsOfPrefixWithNULByteAnswers400", "GET", "/api/v1/secrets?at_position=1&prefix=%00", "", nil, 400},
		{"SecretListAsOfPrefixWithInvalidUTF8Answers400", "GET", "/api/v1/secrets?as_of=2026-01-01T00:00:00Z&prefix=%FF", "", nil, 400},
		{"SecretListAsOfTimeWithInvalidUTF8Answers400", "GET", "/api/v1/secrets?as_of=%FF", "", nil, 400},
		// Odd but valid instants are answered, not failed.
		{"SecretListAsOfYearZeroAnswers200", "GET", "/api/v1/secrets?as_of=0000-01-01T00:00:00Z", "", nil, 200},
		{"AuditSinceYearOneAtPlus14Answers200", "GET", "/api/v1/audit/logs?since=0001-01-01T00:00:00%2B14:00", "", nil, 200},
		// One secret: history, diff, reveal, versions, path ids.
		{"SecretHistoryCursorWithNULByteAnswers400", "GET", "/api/v1/secrets/" + id + "/history?cursor=%00", "", nil, 400},
		{"SecretHistoryCursorBeyondInt64Answers400", "GET", "/api/v1/secrets/" + id + "/history?cursor=99999999999999999999", "", nil, 400},
		{"SecretDiffFromWithInvalidUTF8Answers400", "GET", "/api/v1/secrets/" + id + "/diff?from=%FF", "", nil, 400},
		{"SecretRevealVersionWithNULByteAnswers400", "GET", "/api/v1/secrets/" + id + "/reveal?version=%00", "", nil, 400},
		{"SecretPathIDWithNULByteAnswers404", "GET", "/api/v1/secrets/%00", "", nil, 404},
		{"SecretPathIDWithInvalidUTF8Answers404", "GET", "/api/v1/secrets/%FF/versions", "", nil, 404},
		{"SecretAsOfPathIDWithNULByteAnswers404", "GET", "/api/v1/secrets/%00/history?at_position=1", "", nil, 404},
		// By name, edits, rollbacks and batch reveals.
		{"SecretByNameWithNULByteAnswers400", "GET", "/api/v1/secrets/by-name/prod%00x", "", nil, 400},
		{"SecretByNameWithRawTraversalAnswers400", "GET", "/api/v1/secrets/by-name/prod/../etc", "", nil, 400},
		{"SecretByNameWithEscapedTraversalAnswers400", "GET", "/api/v1/secrets/by-name/prod%2F..%2Fetc/reveal", "", nil, 400},
		{"SecretByNameWithInvalidUTF8Answers400", "GET", "/api/v1/secrets/by-name/prod/%FF", "", nil, 400},
		{"SecretByNameOverlongAnswers400", "GET", "/api/v1/secrets/by-name/" + overlongName, "", nil, 400},
		{"SecretRevealByNameWithNULByteAnswers400", "GET", "/api/v1/secrets/by-name/%00/reveal", "", nil, 400},
		{"SecretRevealByNameVersionBeyondInt64Answers400", "GET", "/api/v1/secrets/by-name/prod/db/reveal?version=99999999999999999999", "", nil, 400},
		{"SecretUpdateTagWithNULByteAnswers400", "PUT", "/api/v1/secrets/" + id, `{"tags":["a\u0000b"]}`, nil, 400},
		{"SecretUpdateDescriptionWithInvalidUTF8Answers400", "PUT", "/api/v1/secrets/" + id, "{\"description\":\"\xff\"}", nil, 400},
		{"SecretUpdateDuplicateKeysAnswers400", "PUT", "/api/v1/secrets/" + id, `{"description":"a","description":"b"}`, nil, 400},
		{"SecretUpdateTagsNotAListAnswers400", "PUT", "/api/v1/secrets/" + id, `{"tags":"x"}`, nil, 400},
		{"SecretRollbackVersionBeyondInt64Answers400", "POST", "/api/v1/secrets/" + id + "/rollback", `{"version":99999999999999999999}`, nil, 400},
		{"SecretRollbackNegativeVersionAnswers400", "POST", "/api/v1/secrets/" + id + "/rollback", `{"version":-1}`, nil, 400},
		{"SecretRollbackIfMatchWithInvalidUTF8Answers400", "POST", "/api/v1/secrets/" + id + "/rollback", `{"version":1}`, []string{"If-Match", "\xff"}, 400},
		{"SecretBatchRevealNameWithNULByteAnswers400", "POST", "/api/v1/secrets/reveal", `{"names":["prod/a\u0000"]}`, nil, 400},
		{"SecretBatchRevealTraversalNameAnswers400", "POST", "/api/v1/secrets/reveal", `{"names":["prod/../etc"]}`, nil, 400},
		{"SecretBatchRevealPrefixWithTraversalAnswers400", "POST", "/api/v1/secrets/reveal", `{"prefix":"prod/../"}`, nil, 400},
		{"SecretBatchRevealPrefixWithInvalidUTF8Answers400", "POST", "/api/v1/secrets/reveal", "{\"prefix\":\"\xff\"}", nil, 400},
		{"SecretBatchRevealTooManyNamesAnswers400", "POST", "/api/v1/secrets/reveal", tooManyNames, nil, 400},
		{"SecretBatchRevealNamesNotAListAnswers400", "POST", "/api/v1/secrets/reveal", `{"names":{"a":1}}`, nil, 400},
		// Headers that reach a query or a command.
		{"RotateIfMatchWithInvalidUTF8Answers400", "PUT", "/api/v1/secrets/" + id + "/rotate", `{"value":"x"}`, []string{"If-Match", "\xff"}, 400},
		{"MinPositionWithInvalidUTF8Answers400", "GET", "/api/v1/secrets", "", []string{"X-Vault-Min-Position", "\xff"}, 400},
		{"MinPositionBeyondInt64Answers400", "GET", "/api/v1/users", "", []string{"X-Vault-Min-Position", "99999999999999999999"}, 400},
		// Every position a write reports is at or below the head; waiting for
		// a larger one used to hold the request for the timeout, then 503.
		{"MinPositionBeyondTheHeadAnswers400", "GET", "/api/v1/secrets", "", []string{"X-Vault-Min-Position", "9223372036854775807"}, 400},
		{"BearerTokenWithInvalidUTF8Answers401", "GET", "/api/v1/secrets", "", []string{"Authorization", "Bearer \xff\xfe"}, 401},
		// Users, roles and policies, current state.
		{"UserListCursorWithNULByteAnswers400", "GET", "/api/v1/users?cursor=" + nulCursor, "", nil, 400},
		{"UserListCursorWithCapitalsAnswers400", "GET", "/api/v1/users?cursor=" + cursorOf("Admin"), "", nil, 400},
		{"UserListNameWithNULByteAnswers400", "GET", "/api/v1/users?name=%00", "", nil, 400},
		{"UserListNameWithInvalidUTF8Answers400", "GET", "/api/v1/users?name=%FF", "", nil, 400},
		{"RoleListCursorWithNULByteAnswers400", "GET", "/api/v1/roles?cursor=" + nulCursor, "", nil, 400},
		{"RoleListNameWithNULByteAnswers400", "GET", "/api/v1/roles?name=%00", "", nil, 400},
		{"PolicyListCursorWithNULByteAnswers400", "GET", "/api/v1/policies?cursor=" + nulCursor, "", nil, 400},
		{"PolicyListNameWithNULByteAnswers400", "GET", "/api/v1/policies?name=%00", "", nil, 400},
		{"UserPathIDWithNULByteAnswers400", "GET", "/api/v1/users/%00", "", nil, 400},
		{"RolePathIDWithInvalidUTF8Answers400", "GET", "/api/v1/roles/%FF", "", nil, 400},
		{"PolicyPathIDWithNULByteAnswers400", "DELETE", "/api/v1/policies/%00", "", nil, 400},
		// Users, roles and policies as of a past instant.
		{"UserListAsOfCursorWithNULByteAnswers400", "GET", "/api/v1/users?at_position=1&cursor=" + nulCursor, "", nil, 400},
		{"UserListAsOfNameWithNULByteAnswers400", "GET", "/api/v1/users?at_position=1&name=%00", "", nil, 400},
		{"RoleListAsOfCursorWithNULByteAnswers400", "GET", "/api/v1/roles?at_position=1&cursor=" + nulCursor, "", nil, 400},
		{"RoleListAsOfCursorOfAnotherAggregateAnswers400", "GET", "/api/v1/roles?at_position=1&cursor=" + cursorOf("user-"+domain.AdminRoleID), "", nil, 400},
		{"PolicyListAsOfCursorWithNULByteAnswers400", "GET", "/api/v1/policies?at_position=1&cursor=" + nulCursor, "", nil, 400},
		{"PolicyAsOfPathIDWithNULByteAnswers400", "GET", "/api/v1/policies/%00?at_position=1", "", nil, 400},
		// The audit log: filters, export and cursor.
		{"AuditResourceIDWithInvalidUTF8Answers400", "GET", "/api/v1/audit/logs?resource_id=%FF", "", nil, 400},
		{"AuditResourceIDWithSurrogateAnswers400", "GET", "/api/v1/audit/logs?resource_id=%ED%A0%80", "", nil, 400},
		{"AuditResourceIDWithNULByteAnswers400", "GET", "/api/v1/audit/logs?resource_id=%00", "", nil, 400},
		{"AuditCSVExportResourceIDWithInvalidUTF8Answers400", "GET", "/api/v1/audit/logs?format=csv&resource_id=%FF", "", nil, 400},
		{"AuditNDJSONExportResourceIDWithInvalidUTF8Answers400", "GET", "/api/v1/audit/logs?format=ndjson&resource_id=%C0%80", "", nil, 400},
		{"AuditUserWithNULByteAnswers400", "GET", "/api/v1/audit/logs?user=%00", "", nil, 400},
		{"AuditActionWithInvalidUTF8Answers400", "GET", "/api/v1/audit/logs?action=%FF", "", nil, 400},
		{"AuditCursorWithNULByteAnswers400", "GET", "/api/v1/audit/logs?cursor=%00", "", nil, 400},
		{"AuditSinceWithInvalidUTF8Answers400", "GET", "/api/v1/audit/logs?since=%FF", "", nil, 400},
		// JSON bodies: duplicate and miscased keys, invalid UTF-8, patterns.
		{"CreateSecretWithDuplicateNameKeyAnswers400", "POST", "/api/v1/secrets", `{"name":"public/x","value":"v","name":"prod/db/password"}`, nil, 400},
		{"CreateSecretWithMiscasedKeyAnswers400", "POST", "/api/v1/secrets", `{"name":"public/x","value":"v","NAME":"prod/y"}`, nil, 400},
		{"CreateSecretWithInvalidUTF8DescriptionAnswers400", "POST", "/api/v1/secrets", "{\"name\":\"public/z\",\"value\":\"v\",\"description\":\"\xff\"}", nil, 400},
		{"CreateSecretWithLoneSurrogateDescriptionAnswers400", "POST", "/api/v1/secrets", `{"name":"public/z","value":"v","description":"\udc00"}`, nil, 400},
		{"CreateSecretWithNULInNameAnswers400", "POST", "/api/v1/secrets", `{"name":"public/a\u0000b","value":"v"}`, nil, 400},
		{"CreatePolicyWithDuplicateEffectInStatementAnswers400", "POST", "/api/v1/policies",
			`{"name":"sneaky","statements":[{"effect":"deny","actions":["*"],"resources":["**"],"effect":"allow"}]}`, nil, 400},
		{"CreatePolicyWithMiscasedStatementKeyAnswers400", "POST", "/api/v1/policies",
			`{"name":"sneaky","statements":[{"effect":"deny","Effect":"allow","actions":["*"],"resources":["**"]}]}`, nil, 400},
		{"CreatePolicyWithTraversalPatternAnswers400", "POST", "/api/v1/policies",
			`{"name":"sneaky","statements":[{"effect":"allow","actions":["read"],"resources":["secrets/public/../prod/**"]}]}`, nil, 400},
		{"CreatePolicyWithPercentEscapedPatternAnswers400", "POST", "/api/v1/policies",
			`{"name":"sneaky","statements":[{"effect":"allow","actions":["read"],"resources":["secrets/public%2f..%2fprod/**"]}]}`, nil, 400},
		{"CreatePolicyWithInvalidUTF8PatternAnswers400", "POST", "/api/v1/policies",
			"{\"name\":\"sneaky\",\"statements\":[{\"effect\":\"allow\",\"actions\":[\"read\"],\"resources\":[\"secrets/a\xffb\"]}]}", nil, 400},
		{"UpdateUserWithDuplicateRolesKeyAnswers400", "PUT", "/api/v1/users/" + domain.AdminRoleID, `{"roles":[],"roles":["x"]}`, nil, 400},
		{"LoginWithDuplicateUsernameKeyAnswers400", "POST", "/api/v1/auth/login", `{"username":"nobody","password":"x","username":"admin"}`, nil, 400},
		{"LoginWithMiscasedKeyAnswers400", "POST", "/api/v1/auth/login", `{"Username":"admin","password":"x"}`, nil, 400},
		{"AuthzCheckWithNULResourceAnswers400", "POST", "/api/v1/authz/check",
			`{"user_id":"` + domain.AdminRoleID + `","action":"read","resource":"secrets/a\u0000b"}`, nil, 400},
		{"AuthzCheckWithTraversalResourceAnswers400", "POST", "/api/v1/authz/check",
			`{"user_id":"` + domain.AdminRoleID + `","action":"read","resource":"secrets/public/../prod/db"}`, nil, 400},
	}
	cases = append(cases, accountEmailHostileCases()...)
	cases = append(cases, hostileFileCases(t, e)...)
	ctx := context.Background()
	before, err := e.inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, contentType, body := e.admin.raw(tc.method, tc.path, tc.body, tc.headers...)
			require.Equal(t, tc.status, status, "%s %s: %s", tc.method, tc.path, body)
			require.Equal(t, "application/json", contentType)
			if status < 400 {
				return
			}
			var envelope struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(body, &envelope), string(body))
			require.NotEmpty(t, envelope.Error.Code, string(body))
			require.NotContains(t, envelope.Error.Message, "internal error")
		})
	}
	after, err := e.inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused hostile request wrote to the log")
}
