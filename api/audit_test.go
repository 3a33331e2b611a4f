package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/audit"
)

// newAuditEnv is the identity test vault with the audit projection running
// and GET /api/v1/audit/logs mounted: real tokens, real authorization.
func newAuditEnv(t *testing.T) *identityEnv {
	t.Helper()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner, err := projections.NewRunner(e.db.Pool, e.store, nil, logger, projections.Options{PollInterval: 20 * time.Millisecond}, audit.New())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	e.server.MountAudit(AuditDeps{Queries: e.reads.Audit})
	return e
}

// auditGet reads the audit log once the projection has what the log holds.
func (e *identityEnv) auditGet(token, query string, opts ...reqOption) response {
	e.t.Helper()
	opts = append([]reqOption{withHeader(HeaderMinPosition, strconv.FormatInt(e.head(), 10))}, opts...)
	return e.do(http.MethodGet, "/api/v1/audit/logs?"+query, token, nil, opts...)
}

type auditPageBody struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

func TestAuditLogsJSONPagesWithTheIssueFieldNames(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	admin := e.admin()

	res := e.auditGet(admin.Access, "limit=3")
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.Equal(t, "application/json", res.header.Get("Content-Type"))
	var page auditPageBody
	require.NoError(t, json.Unmarshal(res.raw, &page))
	require.Len(t, page.Items, 3)
	require.NotEmpty(t, page.NextCursor)
	keys := make([]string, 0, len(page.Items[0]))
	for k := range page.Items[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, []string{"action", "event_id", "event_type", "ip", "outcome", "position", "request_id",
		"resource_id", "resource_type", "timestamp", "user_agent", "user_id", "username"}, keys)

	// Newest first, and following the cursors walks down to position 1.
	prev := int64(1 << 62)
	total := 0
	for cursor := ""; ; {
		res := e.auditGet(admin.Access, "limit=3&cursor="+url.QueryEscape(cursor))
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		var p auditPageBody
		require.NoError(t, json.Unmarshal(res.raw, &p))
		for _, it := range p.Items {
			pos := int64(it["position"].(float64))
			require.Less(t, pos, prev)
			prev = pos
			total++
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	require.Equal(t, int64(1), prev)
	require.GreaterOrEqual(t, int64(total), int64(5))

	// The admin's login is on record with the request's address and agent.
	res = e.auditGet(admin.Access, "user=admin&action=auth.login&outcome=allowed")
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.NoError(t, json.Unmarshal(res.raw, &page))
	require.NotEmpty(t, page.Items)
	require.Equal(t, "admin", page.Items[0]["username"])
	require.Equal(t, "users", page.Items[0]["resource_type"])
	require.NotEmpty(t, page.Items[0]["ip"])
}

// Without `read` on `audit` the answer is 403, and the attempt is a row.
func TestAuditLogsForbiddenAttemptIsAudited(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	admin := e.admin()
	uid, user := e.userWithPolicy(admin.Access, "carol", []map[string]any{
		{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/**"}},
	})

	res := e.auditGet(user.Access, "", withHeader("User-Agent", "carol-cli/2"))
	require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
	require.Equal(t, domain.EFORBIDDEN, res.errorCode(t))

	res = e.auditGet("", "")
	require.Equal(t, http.StatusUnauthorized, res.code, string(res.raw))

	res = e.auditGet(admin.Access, "outcome=denied&user="+uid)
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	var page auditPageBody
	require.NoError(t, json.Unmarshal(res.raw, &page))
	require.Len(t, page.Items, 1)
	row := page.Items[0]
	require.Equal(t, "audit.read", row["action"])
	require.Equal(t, "audit", row["resource_type"])
	require.Equal(t, "carol", row["username"])
	require.Equal(t, "carol-cli/2", row["user_agent"])
}

func TestAuditLogsStreamNDJSONAndCSV(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	// A login whose user agent is a spreadsheet formula.
	res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": domain.AdminUsername, "password": testAdminPassword},
		withHeader("User-Agent", `=HYPERLINK("http://evil.example","x")`))
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	token := res.json(t)["access_token"].(string)

	jsonRes := e.auditGet(token, "limit=1000")
	require.Equal(t, http.StatusOK, jsonRes.code)
	var page auditPageBody
	require.NoError(t, json.Unmarshal(jsonRes.raw, &page))
	require.Empty(t, page.NextCursor)

	for _, tc := range []struct {
		name  string
		query string
		opts  []reqOption
	}{
		{"accept header", "", []reqOption{withHeader("Accept", "application/json;q=0.5, application/x-ndjson")}},
		{"format parameter", "format=ndjson", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.auditGet(token, tc.query, tc.opts...)
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			require.Equal(t, "application/x-ndjson", res.header.Get("Content-Type"))
			sc := bufio.NewScanner(bytes.NewReader(res.raw))
			var lines []map[string]any
			for sc.Scan() {
				var m map[string]any
				require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
				lines = append(lines, m)
			}
			require.Len(t, lines, len(page.Items), "the export holds what the pages hold")
			for i := range lines {
				require.Equal(t, page.Items[i]["position"], lines[i]["position"])
			}
		})
	}

	t.Run("csv", func(t *testing.T) {
		res := e.auditGet(token, "format=csv")
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, "text/csv; charset=utf-8", res.header.Get("Content-Type"))
		records, err := csv.NewReader(bytes.NewReader(res.raw)).ReadAll()
		require.NoError(t, err)
		require.Equal(t, AuditCSVHeader(), records[0])
		require.Len(t, records, len(page.Items)+1)
		var agents []string
		for _, rec := range records[1:] {
			agents = append(agents, rec[10])
		}
		require.Contains(t, agents, `'=HYPERLINK("http://evil.example","x")`)
		for _, a := range agents {
			require.False(t, strings.HasPrefix(a, "="), "a formula reached the CSV: %q", a)
		}
	})

	t.Run("empty csv export still has its header", func(t *testing.T) {
		res := e.auditGet(token, "format=csv&outcome=failed&user=nobody")
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, strings.Join(AuditCSVHeader(), ",")+"\n", string(res.raw))
	})
}

func TestAuditCSVRecordDefusesFormulas(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+SUM(A1)", "'+SUM(A1)"}, {"-2", "'-2"}, {"@cmd", "'@cmd"},
		{"\tx", "'\tx"}, {"\rx", "'\rx"}, {"plain", "plain"}, {"a=b", "a=b"}, {"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			rec := AuditCSVRecord(domain.AuditEntry{ResourceID: tt.in, UserAgent: tt.in, Outcome: "allowed"})
			require.Equal(t, tt.want, rec[7])
			require.Equal(t, tt.want, rec[10])
		})
	}
}

func TestAuditLogsBadInputIs400(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	admin := e.admin()
	tests := []struct {
		name, query, message string
	}{
		{"unknown parameter", "usr=alice", `unknown query parameter "usr"`},
		{"repeated parameter", "user=a&user=b", `query parameter "user" is given more than once`},
		{"limit zero", "limit=0", "limit must be an integer from 1 to 1000"},
		{"huge limit", "limit=1000000", "limit must be an integer from 1 to 1000"},
		{"limit not a number", "limit=ten", "limit must be an integer from 1 to 1000"},
		{"malformed since", "since=2026-13-01T00:00:00Z", "since must be an RFC 3339 time"},
		{"until before since", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until must be later than since"},
		{"unknown format", "format=xml", "format must be json, ndjson or csv"},
		{"garbage cursor", "cursor=abc", "cursor is not one this server issued"},
		{"bad outcome", "outcome=ok", "outcome must be allowed, denied or failed"},
		{"limit on an export", "format=csv&limit=5", "an export streams every matching entry"},
		{"malformed query string", "user=%zz", "the query string is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.auditGet(admin.Access, tt.query)
			require.Equal(t, http.StatusBadRequest, res.code, string(res.raw))
			require.Equal(t, domain.EINVALID, res.errorCode(t))
			var body errorBody
			require.NoError(t, json.Unmarshal(res.raw, &body))
			require.Contains(t, body.Error.Message, tt.message)
		})
	}

	res := e.do(http.MethodGet, "/api/v1/audit/logs", admin.Access, nil, withHeader(HeaderMinPosition, "-1"))
	require.Equal(t, http.StatusBadRequest, res.code, string(res.raw))
}
