package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/password"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/identity"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/queries"
)

// ttUserAgent is sent with every request, so history can be checked for it.
const ttUserAgent = "timetravel-test/1.0"

// newTimeTravelEnv is the whole read and write stack as vaultd wires it:
// real event store, the streams, identity and secrets projections running,
// real keys, bearer authentication for every endpoint, and time travel.
func newTimeTravelEnv(t *testing.T) *identityEnv {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)

	waiter := vaulttest.RunProjections(t, db, store, nil, projections.Options{
		PollInterval: 50 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}, streams.New(), identity.New(), secrets.New())
	svc := commands.NewService(store, waiter, logger, commands.Options{ReadYourWritesTimeout: 10 * time.Second})
	h, err := password.New(password.Config{Params: testParams()})
	require.NoError(t, err)
	hasher := &countingHasher{Hasher: h}
	tokenKeys, err := authtoken.NewKeyring(rand.Text() + rand.Text())
	require.NoError(t, err)
	tokens, err := authtoken.New(tokenKeys, authtoken.Config{})
	require.NoError(t, err)
	opts := commands.IdentityOptions{LoginIPRate: -1, LoginAccountRate: -1}
	dataKeys := newDataKeys(t, db)
	ident, err := commands.NewIdentity(svc, commands.IdentityDeps{Hasher: hasher, Tokens: tokens, DataKeys: dataKeys, Users: streams.NewCatalog(db.AppPool)}, opts)
	require.NoError(t, err)
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: dataKeys, ReadModel: secrets.NewQuery(db.AppPool), KeyProvider: keys.ProviderLocal,
	})
	require.NoError(t, err)
	reads := vaulttest.NewReads(t, db, store, waiter, nil, queries.Options{CatalogTimeout: 10 * time.Second})
	authn, err := queries.NewAuthenticator(reads.Service, tokens, nil)
	require.NoError(t, err)

	server, err := New(Config{}, Deps{Logger: logger, Authenticator: authn})
	require.NoError(t, err)
	server.MountIdentity(IdentityDeps{Commands: ident, Queries: reads.Identity})
	server.MountSecrets(SecretsDeps{Commands: sec, Queries: reads.Secrets})

	created, err := ident.Bootstrap(ctx, testAdminPassword)
	require.NoError(t, err)
	require.True(t, created)
	return &identityEnv{t: t, db: db, store: store, ident: ident, reads: reads, hasher: hasher, keys: tokenKeys, tokens: tokens, dataKeys: dataKeys, server: server, opts: opts}
}

// ttDo sends a request with the test's user agent.
func ttDo(e *identityEnv, method, path, token string, body any) response {
	e.t.Helper()
	return e.do(method, path, token, body, withHeader("User-Agent", ttUserAgent))
}

// recordedAt is when the event at pos was recorded, as an as_of value.
func recordedAt(t *testing.T, e *identityEnv, pos int64) string {
	t.Helper()
	events, err := e.store.ReadAll(context.Background(), pos-1, 1)
	require.NoError(t, err)
	require.Len(t, events, 1)
	return events[0].RecordedAt.Format(time.RFC3339Nano)
}

func decode[T any](t *testing.T, res response) T {
	t.Helper()
	var out T
	require.NoError(t, json.Unmarshal(res.raw, &out), string(res.raw))
	return out
}

// instants are the two ways to ask for the state at one position.
func instants(t *testing.T, e *identityEnv, pos int64) map[string]string {
	return map[string]string{
		"at_position": "at_position=" + strconv.FormatInt(pos, 10),
		"as_of":       "as_of=" + url.QueryEscape(recordedAt(t, e, pos)),
	}
}

func TestTimeTravelSecrets(t *testing.T) {
	t.Parallel()
	e := newTimeTravelEnv(t)
	admin := e.admin().Access
	const canary1, canary2 = "canary-value-one-7f3a", "canary-value-two-9c1d"

	// A secret's life, with the log position after each step.
	beforeSecrets := e.head()
	res := ttDo(e, http.MethodPost, "/api/v1/secrets", admin, map[string]any{
		"name": "tt/db", "value": canary1, "description": "database", "tags": []string{"prod", "db"},
	})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))
	id := res.json(t)["id"].(string)
	created := e.head()
	res = ttDo(e, http.MethodPut, "/api/v1/secrets/"+id+"/rotate", admin, map[string]any{"value": canary2})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	rotated := e.head()
	res = ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/reveal", admin, nil)
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	revealed := e.head()
	res = ttDo(e, http.MethodPost, "/api/v1/secrets/"+id+"/versions/1/destroy", admin, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	destroyed := e.head()
	res = ttDo(e, http.MethodDelete, "/api/v1/secrets/"+id, admin, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	deleted := e.head()
	res = ttDo(e, http.MethodPost, "/api/v1/secrets", admin, map[string]any{"name": "tt/other", "value": "x"})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))
	otherID := res.json(t)["id"].(string)
	other := e.head()

	noCanary := func(t *testing.T, res response) {
		t.Helper()
		for _, c := range []string{canary1, canary2, "sealed"} {
			require.NotContains(t, string(res.raw), c)
		}
	}

	t.Run("get and versions", func(t *testing.T) {
		cases := []struct {
			name     string
			pos      int64
			state    string
			current  float64
			live     float64
			versions []string
		}{
			{"created", created, "active", 1, 1, []string{"active"}},
			{"rotated", rotated, "active", 2, 2, []string{"active", "active"}},
			{"revealed", revealed, "active", 2, 2, []string{"active", "active"}},
			{"destroyed", destroyed, "active", 2, 1, []string{"destroyed", "active"}},
			{"deleted", deleted, "deleted", 2, 1, []string{"destroyed", "active"}},
		}
		for _, tc := range cases {
			for how, q := range instants(t, e, tc.pos) {
				t.Run(tc.name+" by "+how, func(t *testing.T) {
					res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"?"+q, admin, nil)
					require.Equal(t, http.StatusOK, res.code, string(res.raw))
					m := res.json(t)
					require.Equal(t, "tt/db", m["name"])
					require.Equal(t, "database", m["description"])
					require.Equal(t, []any{"db", "prod"}, m["tags"])
					require.Equal(t, tc.state, m["state"])
					require.Equal(t, tc.current, m["current_version"])
					require.Equal(t, tc.live, m["version_count"])
					require.Equal(t, maskedValue, m["value"])
					noCanary(t, res)

					res = ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/versions?"+q, admin, nil)
					require.Equal(t, http.StatusOK, res.code, string(res.raw))
					var got []string
					for _, v := range res.json(t)["items"].([]any) {
						got = append(got, v.(map[string]any)["state"].(string))
					}
					require.Equal(t, tc.versions, got)
					noCanary(t, res)
				})
			}
		}
	})

	t.Run("a past answer equals the read model's answer of that time", func(t *testing.T) {
		// At the head the fold must answer exactly what the projection does.
		cur := ttDo(e, http.MethodGet, "/api/v1/secrets/"+otherID, admin, nil)
		require.Equal(t, http.StatusOK, cur.code, string(cur.raw))
		past := ttDo(e, http.MethodGet, "/api/v1/secrets/"+otherID+"?at_position="+strconv.FormatInt(other, 10), admin, nil)
		require.Equal(t, http.StatusOK, past.code, string(past.raw))
		require.Equal(t, cur.json(t), past.json(t))
		curV := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/versions", admin, nil)
		pastV := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/versions?at_position="+strconv.FormatInt(other, 10), admin, nil)
		require.Equal(t, curV.json(t)["items"], pastV.json(t)["items"])
	})

	t.Run("before it existed", func(t *testing.T) {
		for _, q := range []string{"at_position=" + strconv.FormatInt(beforeSecrets, 10), "at_position=0", "as_of=2001-01-01T00:00:00Z"} {
			res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"?"+q, admin, nil)
			require.Equal(t, http.StatusNotFound, res.code, q+": "+string(res.raw))
			res = ttDo(e, http.MethodGet, "/api/v1/secrets?"+q, admin, nil)
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			require.Empty(t, res.json(t)["items"], q)
		}
	})

	t.Run("list", func(t *testing.T) {
		names := func(q string) []string {
			res := ttDo(e, http.MethodGet, "/api/v1/secrets?"+q, admin, nil)
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			noCanary(t, res)
			var out []string
			for _, it := range res.json(t)["items"].([]any) {
				out = append(out, it.(map[string]any)["name"].(string))
			}
			return out
		}
		at := func(pos int64) string { return "at_position=" + strconv.FormatInt(pos, 10) }
		require.Equal(t, []string{"tt/db"}, names(at(created)))
		require.Equal(t, []string{"tt/db"}, names(at(created)+"&tag=prod&prefix=tt/"))
		require.Empty(t, names(at(created)+"&tag=staging"))
		require.Empty(t, names(at(deleted)))
		require.Equal(t, []string{"tt/db"}, names(at(deleted)+"&include_deleted=true"))
		require.Equal(t, []string{"tt/other"}, names(at(other)))
		require.ElementsMatch(t, []string{"tt/db", "tt/other"}, names(at(other)+"&include_deleted=true"))
		require.Equal(t, []string{"tt/db"}, names("as_of="+url.QueryEscape(recordedAt(t, e, destroyed))))

		// Pages of one follow each other to the end.
		var all []string
		q := at(other) + "&include_deleted=true&limit=1"
		for range 5 {
			res := ttDo(e, http.MethodGet, "/api/v1/secrets?"+q, admin, nil)
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			m := res.json(t)
			for _, it := range m["items"].([]any) {
				all = append(all, it.(map[string]any)["name"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			q = at(other) + "&include_deleted=true&limit=1&cursor=" + next
		}
		require.ElementsMatch(t, []string{"tt/db", "tt/other"}, all)
	})

	t.Run("history", func(t *testing.T) {
		res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/history", admin, nil)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		noCanary(t, res)
		items := res.json(t)["items"].([]any)
		type want struct {
			typ     string
			changes map[string]any
		}
		ch := func(from, to any) map[string]any { return map[string]any{"from": from, "to": to} }
		wants := []want{
			{domain.EventSecretCreated, map[string]any{
				"name": ch(nil, "tt/db"), "description": ch(nil, "database"), "tags": ch(nil, []any{"db", "prod"}), "state": ch(nil, "active"),
			}},
			{domain.EventSecretVersionAdded, map[string]any{"current_version": ch(0.0, 1.0), "versions.1": ch(nil, "active")}},
			{domain.EventSecretVersionAdded, map[string]any{"current_version": ch(1.0, 2.0), "versions.2": ch(nil, "active")}},
			{domain.EventSecretRevealed, map[string]any{}},
			{domain.EventSecretVersionDestroyed, map[string]any{"versions.1": ch("active", "destroyed")}},
			{domain.EventSecretDeleted, map[string]any{"state": ch("active", "deleted")}},
		}
		require.Len(t, items, len(wants), string(res.raw))
		var last float64
		for i, w := range wants {
			it := items[i].(map[string]any)
			require.Equal(t, w.typ, it["type"], "entry %d", i)
			require.Equal(t, w.changes, it["changes"], "entry %d", i)
			require.Greater(t, it["position"].(float64), last)
			last = it["position"].(float64)
			require.Equal(t, domain.AdminUsername, it["actor"].(map[string]any)["name"])
			require.NotEmpty(t, it["actor"].(map[string]any)["id"])
			require.Equal(t, ttUserAgent, it["user_agent"])
			require.NotEmpty(t, it["ip"])
			require.NotEmpty(t, it["event_id"])
			require.NotEmpty(t, it["timestamp"])
		}
		require.Equal(t, 2.0, items[3].(map[string]any)["revealed_version"])

		// Pages of two, following the cursor, are the same timeline.
		var paged []any
		q := "limit=2"
		for range 10 {
			res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/history?"+q, admin, nil)
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			m := res.json(t)
			paged = append(paged, m["items"].([]any)...)
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			q = "limit=2&cursor=" + next
		}
		require.Equal(t, items, paged)

		// as_of bounds it.
		for how, q := range instants(t, e, rotated) {
			res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/history?"+q, admin, nil)
			require.Equal(t, http.StatusOK, res.code, how+": "+string(res.raw))
			require.Equal(t, items[:3], res.json(t)["items"], how)
		}
	})

	t.Run("diff", func(t *testing.T) {
		cases := []struct {
			name      string
			from, to  string
			changes   map[string]any
			added     []float64
			destroyed []float64
			reveals   []float64
		}{
			{"whole life", strconv.FormatInt(created, 10), strconv.FormatInt(deleted, 10),
				map[string]any{"state": map[string]any{"from": "active", "to": "deleted"}, "current_version": map[string]any{"from": 1.0, "to": 2.0}},
				[]float64{2}, []float64{1}, []float64{2}},
			{"by time", recordedAt(t, e, created), recordedAt(t, e, rotated),
				map[string]any{"current_version": map[string]any{"from": 1.0, "to": 2.0}}, []float64{2}, nil, nil},
			{"nothing between", strconv.FormatInt(revealed, 10), strconv.FormatInt(revealed, 10), map[string]any{}, nil, nil, nil},
			{"to defaults to now", strconv.FormatInt(destroyed, 10), "",
				map[string]any{"state": map[string]any{"from": "active", "to": "deleted"}}, nil, nil, nil},
		}
		versions := func(v any) []float64 {
			var out []float64
			for _, x := range v.([]any) {
				out = append(out, x.(map[string]any)["version"].(float64))
			}
			return out
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				q := "from=" + url.QueryEscape(tc.from)
				if tc.to != "" {
					q += "&to=" + url.QueryEscape(tc.to)
				}
				res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/diff?"+q, admin, nil)
				require.Equal(t, http.StatusOK, res.code, string(res.raw))
				noCanary(t, res)
				m := res.json(t)
				require.Equal(t, tc.changes, m["changes"])
				require.Equal(t, tc.added, versions(m["versions_added"]))
				require.Equal(t, tc.destroyed, versions(m["versions_destroyed"]))
				require.Equal(t, tc.reveals, versions(m["reveals"]))
				for _, r := range m["reveals"].([]any) {
					require.Equal(t, domain.AdminUsername, r.(map[string]any)["actor"].(map[string]any)["name"])
				}
			})
		}
		res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+otherID+"/diff?from=0", admin, nil)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		m := res.json(t)
		require.Equal(t, false, m["existed_at_from"])
		require.Equal(t, map[string]any{"from": nil, "to": "tt/other"}, m["changes"].(map[string]any)["name"])
	})

	t.Run("authorization uses current permissions on the name of then", func(t *testing.T) {
		_, reader := e.userWithPolicy(admin, "ttreader", []map[string]any{
			{"effect": "allow", "actions": []string{"read", "list"}, "resources": []string{"secrets/tt/other"}},
		})
		q := "?at_position=" + strconv.FormatInt(other, 10)
		res := ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+q, reader.Access, nil)
		require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
		res = ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+"/history", reader.Access, nil)
		require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
		res = ttDo(e, http.MethodGet, "/api/v1/secrets/"+otherID+q, reader.Access, nil)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		res = ttDo(e, http.MethodGet, "/api/v1/secrets?include_deleted=true&"+q[1:], reader.Access, nil)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Len(t, res.json(t)["items"], 1)
		res = ttDo(e, http.MethodGet, "/api/v1/secrets/"+id+q, "", nil)
		require.Equal(t, http.StatusUnauthorized, res.code, string(res.raw))
	})

	t.Run("bad input", func(t *testing.T) {
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		beyond := strconv.FormatInt(e.head()+1000, 10)
		cases := []struct {
			name, path, mention string
		}{
			{"malformed time", "/api/v1/secrets/" + id + "?as_of=yesterday", "as_of"},
			{"time without zone", "/api/v1/secrets/" + id + "?as_of=2026-01-02T15:04:05", "as_of"},
			{"malformed position", "/api/v1/secrets/" + id + "?at_position=ten", "at_position"},
			{"negative position", "/api/v1/secrets/" + id + "?at_position=-1", "at_position"},
			{"both", "/api/v1/secrets/" + id + "?at_position=1&as_of=2026-01-02T15:04:05Z", "not both"},
			{"future time", "/api/v1/secrets/" + id + "?as_of=" + future, "future"},
			{"beyond head", "/api/v1/secrets/" + id + "/versions?at_position=" + beyond, "beyond the head"},
			{"unknown parameter", "/api/v1/secrets/" + id + "?at_position=1&colour=red", "colour"},
			{"unknown list filter", "/api/v1/secrets?at_position=1&owner=x", "owner"},
			{"repeated parameter", "/api/v1/secrets?at_position=1&at_position=2", "more than once"},
			{"huge page", "/api/v1/secrets?at_position=1&limit=100000", "limit"},
			{"history unknown parameter", "/api/v1/secrets/" + id + "/history?page=2", "page"},
			{"history bad cursor", "/api/v1/secrets/" + id + "/history?cursor=abc", "cursor"},
			{"history future", "/api/v1/secrets/" + id + "/history?as_of=" + future, "future"},
			{"diff from after to", "/api/v1/secrets/" + id + "/diff?from=" + strconv.FormatInt(deleted, 10) + "&to=" + strconv.FormatInt(created, 10), "after"},
			{"diff from after to by time", "/api/v1/secrets/" + id + "/diff?from=" + url.QueryEscape(recordedAt(t, e, deleted)) + "&to=" + url.QueryEscape(recordedAt(t, e, created)), "after"},
			{"diff malformed from", "/api/v1/secrets/" + id + "/diff?from=last-week", "from"},
			{"diff missing from", "/api/v1/secrets/" + id + "/diff?to=3", "from"},
			{"diff future to", "/api/v1/secrets/" + id + "/diff?from=1&to=" + future, "future"},
			{"diff to beyond head", "/api/v1/secrets/" + id + "/diff?from=1&to=" + beyond, "beyond the head"},
			{"diff unknown parameter", "/api/v1/secrets/" + id + "/diff?from=1&as_of=2026-01-02T15:04:05Z", "as_of"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := ttDo(e, http.MethodGet, tc.path, admin, nil)
				require.Equal(t, http.StatusBadRequest, res.code, string(res.raw))
				require.Equal(t, domain.EINVALID, res.errorCode(t))
				require.Contains(t, res.json(t)["error"].(map[string]any)["message"], tc.mention)
			})
		}
	})
}

func TestTimeTravelIdentity(t *testing.T) {
	t.Parallel()
	e := newTimeTravelEnv(t)
	admin := e.admin().Access
	allowReveal := []map[string]any{{"effect": "allow", "actions": []string{"reveal", "read"}, "resources": []string{"secrets/app/**"}}}
	uid, _ := e.userWithPolicy(admin, "alice", allowReveal)
	granted := e.head()
	users := decode[map[string]any](t, e.do(http.MethodGet, "/api/v1/users/"+uid, admin, nil))
	roleID := users["roles"].([]any)[0].(string)
	role := decode[map[string]any](t, e.do(http.MethodGet, "/api/v1/roles/"+roleID, admin, nil))
	policyID := role["policies"].([]any)[0].(string)

	// The policy turns into a deny, the role is renamed, then the user
	// loses the role and the role is deleted.
	res := e.do(http.MethodPut, "/api/v1/policies/"+policyID, admin, map[string]any{
		"name": "alice-policy-v2", "statements": []map[string]any{{"effect": "deny", "actions": []string{"reveal"}, "resources": []string{"secrets/app/**"}}},
	})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	denied := e.head()
	res = e.do(http.MethodPut, "/api/v1/roles/"+roleID, admin, map[string]any{"name": "alice-role-v2"})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	renamed := e.head()
	res = e.do(http.MethodPut, "/api/v1/users/"+uid, admin, map[string]any{"roles": []string{}})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	res = e.do(http.MethodDelete, "/api/v1/roles/"+roleID, admin, nil)
	require.True(t, res.code == http.StatusNoContent || res.code == http.StatusOK, string(res.raw))
	removed := e.head()

	check := func(t *testing.T, extra map[string]any) response {
		t.Helper()
		body := map[string]any{"user_id": uid, "action": "reveal", "resource": "secrets/app/db"}
		for k, v := range extra {
			body[k] = v
		}
		return e.do(http.MethodPost, "/api/v1/authz/check", admin, body)
	}

	t.Run("authz check over instants", func(t *testing.T) {
		cases := []struct {
			name    string
			pos     int64
			allowed bool
			policy  string
			effect  string
		}{
			{"granted", granted, true, "alice-policy", "allow"},
			{"denied by the changed policy", denied, false, "alice-policy-v2", "deny"},
			{"role renamed, policy still denies", renamed, false, "alice-policy-v2", "deny"},
			{"role removed: denied by default", removed, false, "", "deny"},
		}
		for _, tc := range cases {
			for _, how := range []string{"at_position", "as_of"} {
				t.Run(tc.name+" by "+how, func(t *testing.T) {
					extra := map[string]any{"at_position": tc.pos}
					if how == "as_of" {
						extra = map[string]any{"as_of": recordedAt(t, e, tc.pos)}
					}
					res := check(t, extra)
					require.Equal(t, http.StatusOK, res.code, string(res.raw))
					m := res.json(t)
					d := m["decision"].(map[string]any)
					require.Equal(t, tc.allowed, d["allowed"], string(res.raw))
					require.Equal(t, tc.effect, d["effect"])
					if tc.policy == "" {
						require.Nil(t, d["policy_id"])
						require.Equal(t, -1.0, d["statement_index"])
					} else {
						require.Equal(t, policyID, d["policy_id"])
						require.Equal(t, tc.policy, d["policy_name"])
						require.Equal(t, 0.0, d["statement_index"])
					}
					require.Equal(t, float64(tc.pos), m["at_position"])
					if how == "as_of" {
						require.NotEmpty(t, m["as_of"])
					}
				})
			}
		}
		// Without an instant the answer is today's.
		res := check(t, nil)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, false, res.json(t)["decision"].(map[string]any)["allowed"])
	})

	t.Run("authz check bad input", func(t *testing.T) {
		cases := []struct {
			name  string
			extra map[string]any
			code  int
		}{
			{"malformed time", map[string]any{"as_of": "yesterday"}, http.StatusBadRequest},
			{"both", map[string]any{"as_of": recordedAt(t, e, granted), "at_position": granted}, http.StatusBadRequest},
			{"future", map[string]any{"as_of": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, http.StatusBadRequest},
			{"beyond head", map[string]any{"at_position": e.head() + 1000}, http.StatusBadRequest},
			{"negative", map[string]any{"at_position": -3}, http.StatusBadRequest},
			{"user not there yet", map[string]any{"at_position": 1}, http.StatusNotFound},
			{"before the first event", map[string]any{"as_of": "2001-01-01T00:00:00Z"}, http.StatusNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := check(t, tc.extra)
				require.Equal(t, tc.code, res.code, string(res.raw))
			})
		}
	})

	t.Run("roles, policies and users as they were", func(t *testing.T) {
		at := func(pos int64) string { return "?at_position=" + strconv.FormatInt(pos, 10) }
		r := decode[domain.RoleSummary](t, e.do(http.MethodGet, "/api/v1/roles/"+roleID+at(granted), admin, nil))
		require.Equal(t, "alice-role", r.Name)
		require.Equal(t, []string{policyID}, r.Policies)
		r = decode[domain.RoleSummary](t, e.do(http.MethodGet, "/api/v1/roles/"+roleID+at(renamed), admin, nil))
		require.Equal(t, "alice-role-v2", r.Name)
		require.True(t, r.UpdatedAt.After(r.CreatedAt))
		require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/roles/"+roleID+at(removed), admin, nil).code)
		require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/roles/"+roleID, admin, nil).code)

		p := decode[domain.PolicySummary](t, e.do(http.MethodGet, "/api/v1/policies/"+policyID+at(granted), admin, nil))
		require.Equal(t, "alice-policy", p.Name)
		require.Equal(t, "allow", p.Statements[0].Effect)
		p = decode[domain.PolicySummary](t, e.do(http.MethodGet, "/api/v1/policies/"+policyID+at(denied), admin, nil))
		require.Equal(t, "deny", p.Statements[0].Effect)

		u := decode[domain.UserSummary](t, e.do(http.MethodGet, "/api/v1/users/"+uid+at(granted), admin, nil))
		require.Equal(t, "alice", u.Username)
		require.Equal(t, []string{roleID}, u.Roles)
		u = decode[domain.UserSummary](t, e.do(http.MethodGet, "/api/v1/users/"+uid+at(removed), admin, nil))
		require.Equal(t, []string{}, u.Roles)
		require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/users/"+uid+at(1), admin, nil).code)
		res := e.do(http.MethodGet, "/api/v1/users/"+uid+at(removed), admin, nil)
		require.NotContains(t, string(res.raw), "argon2")

		// At the head, the fold answers exactly what the read model does.
		for _, path := range []string{"/api/v1/users/" + uid, "/api/v1/policies/" + policyID} {
			cur := e.do(http.MethodGet, path, admin, nil)
			past := e.do(http.MethodGet, path+at(e.head()), admin, nil)
			require.Equal(t, cur.json(t), past.json(t), path)
		}
	})

	t.Run("lists as they were", func(t *testing.T) {
		names := func(path string, field string) []string {
			res := e.do(http.MethodGet, path, admin, nil)
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			var out []string
			for _, it := range res.json(t)["items"].([]any) {
				out = append(out, it.(map[string]any)[field].(string))
			}
			return out
		}
		q := func(pos int64) string { return "?at_position=" + strconv.FormatInt(pos, 10) }
		require.Contains(t, names("/api/v1/roles"+q(granted), "name"), "alice-role")
		require.Contains(t, names("/api/v1/roles"+q(renamed), "name"), "alice-role-v2")
		require.NotContains(t, names("/api/v1/roles"+q(removed), "name"), "alice-role-v2")
		require.Equal(t, []string{"alice-role"}, names("/api/v1/roles"+q(granted)+"&name=alice-r", "name"))
		require.Equal(t, []string{"alice-policy"}, names("/api/v1/policies"+q(granted)+"&name=alice", "name"))
		require.ElementsMatch(t, []string{"admin", "alice"}, names("/api/v1/users"+q(removed), "username"))
		require.Empty(t, names("/api/v1/users?as_of=2001-01-01T00:00:00Z", "username"))
		res := e.do(http.MethodGet, "/api/v1/users"+q(removed)+"&sort=name", admin, nil)
		require.Equal(t, http.StatusBadRequest, res.code, string(res.raw))
		require.Contains(t, string(res.raw), "sort")
	})

	t.Run("callers without admin see nothing of others", func(t *testing.T) {
		_, bob := e.userWithPolicy(admin, "bob", allowReveal)
		q := "?at_position=" + strconv.FormatInt(granted, 10)
		require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/api/v1/users/"+uid+q, bob.Access, nil).code)
		require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/api/v1/roles/"+roleID+q, bob.Access, nil).code)
		res := e.do(http.MethodPost, "/api/v1/authz/check", bob.Access, map[string]any{
			"user_id": uid, "action": "reveal", "resource": "secrets/app/db", "at_position": granted,
		})
		require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
		// Bob may read himself as he was, and lists show him only himself.
		res = e.do(http.MethodGet, "/api/v1/users?at_position="+strconv.FormatInt(e.head(), 10), bob.Access, nil)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Len(t, res.json(t)["items"], 1)
	})
}
