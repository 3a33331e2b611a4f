package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/queries"
)

// secretsAPI is the real stack behind the secret endpoints. Every component
// logs into one buffer, so the canary test sees all log output.
type secretsAPI struct {
	*testServer
	db    *pgtest.Database
	mu    sync.Mutex
	users map[string]domain.Principal // bearer token → principal
}

type secretsAPIOptions struct {
	// noProjection leaves the read model behind for good, so every read's
	// bounded wait runs out.
	noProjection bool
}

func newSecretsAPI(t *testing.T, opts secretsAPIOptions) *secretsAPI {
	t.Helper()
	db := pgtest.New(t)
	a := &secretsAPI{db: db, users: map[string]domain.Principal{}}
	a.testServer = newTestServerDeps(t, Config{}, Deps{Authenticator: a})
	logger := slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)

	var waiter *projections.Waiter
	if opts.noProjection {
		// The read model stays behind for good: every read's bounded wait
		// runs out.
		waiter = projections.NewWaiter(db.AppPool, nil, 50*time.Millisecond)
	} else {
		waiter = vaulttest.RunProjections(t, db, store, logger, projections.Options{}, secrets.New())
	}
	root, err := envelope.NewDataKey()
	require.NoError(t, err)
	kr, err := keys.NewKeyring(context.Background(), db.AppPool, root, logger, keys.KeyringOptions{})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	readTimeout := 30 * time.Second
	if opts.noProjection {
		readTimeout = 300 * time.Millisecond
	}
	svc := commands.NewService(store, waiter, logger, commands.Options{ReadYourWritesTimeout: readTimeout})
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: keys.NewStore(db.AppPool, kr, logger), ReadModel: secrets.NewQuery(db.AppPool), KeyProvider: keys.ProviderLocal,
	})
	require.NoError(t, err)
	reads := vaulttest.NewReads(t, db, store, waiter, logger, queries.Options{MinPositionTimeout: readTimeout})
	a.MountSecrets(SecretsDeps{Commands: sec, Queries: reads.Secrets})
	return a
}

// Authenticate stands in for the identity read side: a bearer token names
// a principal the test registered.
func (a *secretsAPI) Authenticate(_ context.Context, token, _ string) (domain.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, known := a.users[token]
	if !known {
		return domain.Principal{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	return p, nil
}

// user registers a principal with the given statements and returns its token.
func (a *secretsAPI) user(statements ...domain.Statement) string {
	token := domain.NewID()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[token] = domain.Principal{
		UserID: domain.NewID(), Username: "user-" + token[:8],
		Policies: []domain.PolicyView{{ID: domain.NewID(), Name: "test", Statements: statements}},
	}
	return token
}

func (a *secretsAPI) admin() string {
	return a.user(domain.Statement{Effect: domain.EffectAllow, Actions: []string{"*"}, Resources: []string{"secrets/**"}})
}

func (a *secretsAPI) call(token, method, path string, body any, headers ...string) *httptest.ResponseRecorder {
	var rdr *bytes.Reader
	switch b := body.(type) {
	case nil:
		rdr = bytes.NewReader(nil)
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rdr = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rdr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return a.do(req)
}

func (a *secretsAPI) create(t *testing.T, token, name, value string, tags ...string) secretJSON {
	t.Helper()
	rec := a.call(token, http.MethodPost, "/api/v1/secrets", map[string]any{"name": name, "value": value, "tags": tags})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var out secretJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out
}

func requireCode(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	if code != "" {
		require.Equal(t, code, decodeErrorBody(t, rec).Code)
	}
}

func TestSecretsHTTPCreateGetList(t *testing.T) {
	t.Parallel()
	a := newSecretsAPI(t, secretsAPIOptions{})
	admin := a.admin()

	rec := a.call(admin, http.MethodPost, "/api/v1/secrets", map[string]any{
		"name": "prod/db/password", "value": "hunter2-http", "description": "main db", "tags": []string{"env:prod"},
	})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.NotEmpty(t, rec.Header().Get(HeaderPosition))
	require.Equal(t, `"1"`, rec.Header().Get("ETag"))
	var created map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	require.Equal(t, "********", created["value"])
	require.Equal(t, "prod/db/password", created["name"])
	require.Equal(t, "main db", created["description"])
	require.Equal(t, float64(1), created["current_version"])
	require.Equal(t, "active", created["state"])
	for _, k := range []string{"id", "created_at", "created_by", "updated_at", "updated_by", "tags"} {
		require.Contains(t, created, k)
	}
	id := created["id"].(string)
	require.Equal(t, "/api/v1/secrets/"+id, rec.Header().Get("Location"))
	require.NotContains(t, rec.Body.String(), "hunter2-http")

	rec = a.call(admin, http.MethodGet, "/api/v1/secrets/"+id, nil, HeaderMinPosition, rec.Header().Get(HeaderPosition))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"value":"********"`)
	require.NotContains(t, rec.Body.String(), "hunter2-http")

	a.create(t, admin, "prod/api/key", "k", "env:prod")
	a.create(t, admin, "dev/api/key", "k", "env:dev")
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"all", "", []string{"dev/api/key", "prod/api/key", "prod/db/password"}},
		{"prefix", "?prefix=prod/", []string{"prod/api/key", "prod/db/password"}},
		{"tag", "?tag=env:dev", []string{"dev/api/key"}},
		{"limit", "?limit=1", []string{"dev/api/key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.call(admin, http.MethodGet, "/api/v1/secrets"+tc.query, nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var page secretListJSON
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
			var names []string
			for _, it := range page.Items {
				require.Equal(t, "********", it.Value)
				names = append(names, it.Name)
			}
			require.Equal(t, tc.want, names)
		})
	}

	t.Run("cursor", func(t *testing.T) {
		rec := a.call(admin, http.MethodGet, "/api/v1/secrets?limit=2", nil)
		var page secretListJSON
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		require.NotEmpty(t, page.NextCursor)
		rec = a.call(admin, http.MethodGet, "/api/v1/secrets?limit=2&cursor="+page.NextCursor, nil)
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		require.Len(t, page.Items, 1)
		require.Equal(t, "prod/db/password", page.Items[0].Name)
	})

	t.Run("list shows only what the caller may list", func(t *testing.T) {
		dev := a.user(domain.Statement{Effect: domain.EffectAllow, Actions: []string{"list"}, Resources: []string{"secrets/dev/**"}})
		rec := a.call(dev, http.MethodGet, "/api/v1/secrets", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		var page secretListJSON
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		require.Len(t, page.Items, 1)
		require.Equal(t, "dev/api/key", page.Items[0].Name)
	})
}

func TestSecretsHTTPErrors(t *testing.T) {
	t.Parallel()
	a := newSecretsAPI(t, secretsAPIOptions{})
	admin := a.admin()
	readOnly := a.user(domain.Statement{Effect: domain.EffectAllow, Actions: []string{"read", "list"}, Resources: []string{"secrets/**"}})
	sec := a.create(t, admin, "errors/existing", "v1")
	base := "/api/v1/secrets/" + sec.ID

	cases := []struct {
		name    string
		token   string
		method  string
		path    string
		body    any
		headers []string
		status  int
		code    string
	}{
		{"duplicate name", admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "errors/existing", "value": "x"}, nil, http.StatusConflict, domain.ECONFLICT},
		{"invalid name", admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "a//b", "value": "x"}, nil, http.StatusBadRequest, domain.EINVALID},
		{"unknown field", admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "a/b", "value": "x", "owner": "me"}, nil, http.StatusBadRequest, domain.EINVALID},
		{"value over 64 KiB", admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "a/big", "value": strings.Repeat("v", 64<<10+1)}, nil, http.StatusUnprocessableEntity, domain.EUNPROCESSABLE},
		{"body over 1 MiB", admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "a/huge", "value": strings.Repeat("v", 1<<20)}, nil, http.StatusRequestEntityTooLarge, domain.ETOOLARGE},
		{"no credentials", "", http.MethodGet, "/api/v1/secrets", nil, nil, http.StatusUnauthorized, domain.EUNAUTHORIZED},
		{"create forbidden", readOnly, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "errors/new", "value": "x"}, nil, http.StatusForbidden, domain.EFORBIDDEN},
		{"reveal forbidden", readOnly, http.MethodGet, base + "/reveal", nil, nil, http.StatusForbidden, domain.EFORBIDDEN},
		{"rotate forbidden", readOnly, http.MethodPut, base + "/rotate", map[string]any{"value": "x"}, nil, http.StatusForbidden, domain.EFORBIDDEN},
		{"delete forbidden", readOnly, http.MethodDelete, base, nil, nil, http.StatusForbidden, domain.EFORBIDDEN},
		{"destroy forbidden", readOnly, http.MethodPost, base + "/versions/1/destroy", nil, nil, http.StatusForbidden, domain.EFORBIDDEN},
		{"unknown secret", admin, http.MethodGet, "/api/v1/secrets/" + domain.NewID(), nil, nil, http.StatusNotFound, domain.ENOTFOUND},
		{"malformed id", admin, http.MethodGet, "/api/v1/secrets/not-a-uuid", nil, nil, http.StatusNotFound, domain.ENOTFOUND},
		{"reveal unknown version", admin, http.MethodGet, base + "/reveal?version=9", nil, nil, http.StatusNotFound, domain.ENOTFOUND},
		{"reveal bad version", admin, http.MethodGet, base + "/reveal?version=x", nil, nil, http.StatusBadRequest, domain.EINVALID},
		{"stale If-Match", admin, http.MethodPut, base + "/rotate", map[string]any{"value": "x"}, []string{"If-Match", `"7"`}, http.StatusPreconditionFailed, domain.EPRECONDITION},
		{"malformed If-Match", admin, http.MethodPut, base + "/rotate", map[string]any{"value": "x"}, []string{"If-Match", "abc"}, http.StatusBadRequest, domain.EINVALID},
		{"rotate without value", admin, http.MethodPut, base + "/rotate", map[string]any{}, nil, http.StatusBadRequest, domain.EINVALID},
		{"rotate bad charset", admin, http.MethodPut, base + "/rotate", map[string]any{"generate": map[string]any{"length": 16, "charset": "emoji"}}, nil, http.StatusBadRequest, domain.EINVALID},
		{"destroy unknown version", admin, http.MethodPost, base + "/versions/9/destroy", nil, nil, http.StatusNotFound, domain.ENOTFOUND},
		{"min position beyond the head", admin, http.MethodGet, base, nil, []string{HeaderMinPosition, "999999999"}, http.StatusBadRequest, domain.EINVALID},
		{"bad list limit", admin, http.MethodGet, "/api/v1/secrets?limit=500", nil, nil, http.StatusBadRequest, domain.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireCode(t, a.call(tc.token, tc.method, tc.path, tc.body, tc.headers...), tc.status, tc.code)
		})
	}
}

func TestSecretsHTTPLifecycle(t *testing.T) {
	t.Parallel()
	a := newSecretsAPI(t, secretsAPIOptions{})
	admin := a.admin()
	sec := a.create(t, admin, "life/cycle", "first-value")
	base := "/api/v1/secrets/" + sec.ID

	reveal := func(query string) (revealJSON, *httptest.ResponseRecorder) {
		rec := a.call(admin, http.MethodGet, base+"/reveal"+query, nil)
		var out revealJSON
		if rec.Code == http.StatusOK {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		}
		return out, rec
	}
	got, rec := reveal("")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, revealJSON{Value: "first-value", Version: 1}, got)
	require.NotEmpty(t, rec.Header().Get(HeaderPosition))

	rec = a.call(admin, http.MethodPut, base+"/rotate", map[string]any{"value": "second-value"}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, `"2"`, rec.Header().Get("ETag"))
	require.Contains(t, rec.Body.String(), `"value":"********"`)
	require.NotContains(t, rec.Body.String(), "second-value")

	rec = a.call(admin, http.MethodPut, base+"/rotate", map[string]any{"generate": map[string]any{"length": 32, "charset": "base64url"}})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got, _ = reveal("")
	require.Equal(t, int64(3), got.Version)
	require.Len(t, got.Value, 32)
	got, _ = reveal("?version=1")
	require.Equal(t, "first-value", got.Value)

	rec = a.call(admin, http.MethodGet, base+"/versions", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var versions secretVersionsJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &versions))
	require.Len(t, versions.Items, 3)
	require.True(t, versions.Items[2].Generated)
	require.NotContains(t, rec.Body.String(), "first-value")

	rec = a.call(admin, http.MethodPost, base+"/versions/1/destroy", nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.NotEmpty(t, rec.Header().Get(HeaderPosition))
	_, rec = reveal("?version=1")
	requireCode(t, rec, http.StatusGone, domain.EGONE)

	rec = a.call(admin, http.MethodDelete, base, nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.NotEmpty(t, rec.Header().Get(HeaderPosition))
	_, rec = reveal("")
	requireCode(t, rec, http.StatusGone, domain.EGONE)
	rec = a.call(admin, http.MethodGet, "/api/v1/secrets", nil)
	require.NotContains(t, rec.Body.String(), sec.ID)
	rec = a.call(admin, http.MethodGet, "/api/v1/secrets?include_deleted=true", nil)
	require.Contains(t, rec.Body.String(), sec.ID)

	rec = a.call(admin, http.MethodPost, base+"/restore", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"state":"active"`)
	got, _ = reveal("")
	require.Equal(t, int64(3), got.Version)
}

// TestSecretsHTTPWritesDoNotWaitForTheReadModel: a write answers once its
// events are in the log, and the read after it waits for the read model
// instead, bounded, and says so (503) rather than answer stale.
func TestSecretsHTTPWritesDoNotWaitForTheReadModel(t *testing.T) {
	t.Parallel()
	a := newSecretsAPI(t, secretsAPIOptions{noProjection: true})
	admin := a.admin()
	rec := a.call(admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "lagging/one", "value": "v"})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	pos, err := strconv.ParseInt(rec.Header().Get(HeaderPosition), 10, 64)
	require.NoError(t, err)
	require.Positive(t, pos)
	var body secretJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "lagging/one", body.Name)
	require.Equal(t, "********", body.Value)

	// The next read must see the write: with the read model behind, it
	// waits and then refuses, with or without the position.
	requireCode(t, a.call(admin, http.MethodGet, "/api/v1/secrets/"+body.ID, nil),
		http.StatusServiceUnavailable, domain.EUNAVAILABLE)
	requireCode(t, a.call(admin, http.MethodGet, "/api/v1/secrets", nil),
		http.StatusServiceUnavailable, domain.EUNAVAILABLE)
	requireCode(t, a.call(admin, http.MethodGet, "/api/v1/secrets/"+body.ID, nil, HeaderMinPosition, strconv.FormatInt(pos, 10)),
		http.StatusServiceUnavailable, domain.EUNAVAILABLE)

	// Reveal reads the log, so it works before the read model catches up.
	rec = a.call(admin, http.MethodGet, "/api/v1/secrets/"+body.ID+"/reveal", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	rec = a.call(admin, http.MethodPost, "/api/v1/secrets/"+body.ID+"/versions/1/destroy", nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.NotEmpty(t, rec.Header().Get(HeaderPosition))
}

// TestSecretsCanary proves a value never leaves the request that carries
// it: not into any table (the event log included), the logs or the metrics.
func TestSecretsCanary(t *testing.T) {
	t.Parallel()
	a := newSecretsAPI(t, secretsAPIOptions{})
	admin := a.admin()
	canary := "canary-" + domain.NewID()
	rotated := "canary-" + domain.NewID()

	sec := a.create(t, admin, "canary/value", canary, "env:test")
	rec := a.call(admin, http.MethodGet, "/api/v1/secrets/"+sec.ID+"/reveal", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), canary, "the reveal itself must return it")
	rec = a.call(admin, http.MethodPut, "/api/v1/secrets/"+sec.ID+"/rotate", map[string]any{"value": rotated})
	require.Equal(t, http.StatusOK, rec.Code)
	// A failing request with the canary in its body must not echo or log it.
	rec = a.call(admin, http.MethodPost, "/api/v1/secrets", map[string]any{"name": "canary/value", "value": canary})
	require.Equal(t, http.StatusConflict, rec.Code)
	require.NotContains(t, rec.Body.String(), canary)
	rec = a.call(admin, http.MethodGet, "/api/v1/secrets/"+sec.ID+"/versions", nil)
	require.Equal(t, http.StatusOK, rec.Code)

	var needles []string
	for _, v := range []string{canary, rotated} {
		needles = append(needles, v,
			base64.StdEncoding.EncodeToString([]byte(v)), base64.RawStdEncoding.EncodeToString([]byte(v)),
			base64.URLEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)),
			fmt.Sprintf("%x", v))
	}

	ctx := context.Background()
	rows, err := a.db.Pool.Query(ctx, `SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var schema, table string
		err := r.Scan(&schema, &table)
		return pgx.Identifier{schema, table}.Sanitize(), err
	})
	require.NoError(t, err)
	require.Contains(t, tables, `"public"."events"`)
	require.Contains(t, tables, `"public"."secrets"`)
	require.Contains(t, tables, `"public"."secret_versions"`)
	for _, table := range tables {
		rows, err := a.db.Pool.Query(ctx, "SELECT t::text FROM "+table+" t")
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		all := strings.Join(texts, "\n")
		for _, n := range needles {
			require.NotContains(t, all, n, "table %s", table)
		}
	}

	rec = a.call("", http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "# TYPE")
	logs := a.logs.String()
	require.NotEmpty(t, logs)
	for _, n := range needles {
		require.NotContains(t, rec.Body.String(), n, "metrics")
		require.NotContains(t, logs, n, "logs")
	}
}
