package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
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
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/queries"
)

// testAdminPassword is the bootstrap password of every identity test.
const testAdminPassword = "correct horse battery staple"

// countingHasher is the real Argon2id hasher, counting the verifications
// each login path performs (it does not replace any of them).
type countingHasher struct {
	*password.Hasher
	verifications atomic.Int64
}

func (c *countingHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	c.verifications.Add(1)
	return c.Hasher.Verify(ctx, pw, encoded)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, pw string) error {
	c.verifications.Add(1)
	return c.Hasher.VerifyDummy(ctx, pw)
}

// identityEnv is one test's vault: its own database, the real event store,
// the identity projection running, the real hasher and token manager, and
// the HTTP server with the identity endpoints.
type identityEnv struct {
	t        testing.TB
	db       *pgtest.Database
	store    *eventstore.Store
	ident    *commands.Identity
	reads    vaulttest.Reads
	hasher   *countingHasher
	keys     *authtoken.Keyring
	tokens   *authtoken.Manager
	dataKeys *keys.Store
	server   *Server
	opts     commands.IdentityOptions
}

func (e *identityEnv) identityOptions() commands.IdentityOptions { return e.opts }

type identityEnvOptions struct {
	identity  commands.IdentityOptions
	params    password.Params
	bootstrap bool
	// catalog gives the Identity the stream catalog (whose projection the
	// test then has to run itself).
	catalog bool
}

// testParams are the cheapest Argon2id parameters the hasher accepts (the
// OWASP floor): tests stay quick, the code path is the production one.
func testParams() password.Params {
	return password.Params{Memory: 7168, Iterations: 5, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func newIdentityEnv(t testing.TB, o identityEnvOptions) *identityEnv {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)

	waiter := vaulttest.RunProjections(t, db, store, nil, projections.Options{
		PollInterval: 50 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}, identity.New())
	svc := commands.NewService(store, waiter, logger, commands.Options{ReadYourWritesTimeout: 10 * time.Second})
	reads := vaulttest.NewReads(t, db, store, waiter, nil, queries.Options{})

	if o.params == (password.Params{}) {
		o.params = testParams()
	}
	h, err := password.New(password.Config{Params: o.params})
	require.NoError(t, err)
	hasher := &countingHasher{Hasher: h}
	tokenKeys, err := authtoken.NewKeyring(rand.Text() + rand.Text())
	require.NoError(t, err)
	tokens, err := authtoken.New(tokenKeys, authtoken.Config{})
	require.NoError(t, err)
	if o.identity.LoginIPRate == 0 {
		// Every test request comes from one address; the IP limit has its
		// own test.
		o.identity.LoginIPRate = -1
	}
	if o.identity.LoginAccountRate == 0 {
		o.identity.LoginAccountRate = -1
	}
	dataKeys := newDataKeys(t, db)
	deps := commands.IdentityDeps{Hasher: hasher, Tokens: tokens, DataKeys: dataKeys}
	if o.catalog {
		deps.Users = streams.NewCatalog(db.Pool)
	}
	ident, err := commands.NewIdentity(svc, deps, o.identity)
	require.NoError(t, err)
	authn, err := queries.NewAuthenticator(reads.Service, tokens, nil)
	require.NoError(t, err)

	server, err := New(Config{}, Deps{Logger: logger, Authenticator: authn})
	require.NoError(t, err)
	server.MountIdentity(IdentityDeps{Commands: ident, Queries: reads.Identity})

	env := &identityEnv{t: t, db: db, store: store, ident: ident, reads: reads, hasher: hasher, keys: tokenKeys, tokens: tokens, dataKeys: dataKeys, server: server, opts: o.identity}
	if o.bootstrap {
		created, err := ident.Bootstrap(ctx, testAdminPassword)
		require.NoError(t, err)
		require.True(t, created)
	}
	return env
}

// response is a recorded answer with its JSON decoded loosely.
type response struct {
	code   int
	header http.Header
	raw    []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.raw, &m), string(r.raw))
	return m
}

func (r response) errorCode(t testing.TB) string {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"), string(r.raw))
	var body errorBody
	require.NoError(t, json.Unmarshal(r.raw, &body), string(r.raw))
	require.NotEmpty(t, body.Error.Code, string(r.raw))
	return body.Error.Code
}

type reqOption func(*http.Request)

func withIP(ip string) reqOption {
	return func(r *http.Request) { r.RemoteAddr = net.JoinHostPort(ip, "40000") }
}

func withHeader(k, v string) reqOption { return func(r *http.Request) { r.Header.Set(k, v) } }

// do sends a request; body may be a string (sent raw) or a value to encode.
func (e *identityEnv) do(method, path, token string, body any, opts ...reqOption) response {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		rdr = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rdr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	e.server.Handler().ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}

type tokenPair struct {
	Access, Refresh string
}

func (e *identityEnv) login(username, pw string) tokenPair {
	e.t.Helper()
	res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": pw})
	require.Equal(e.t, http.StatusOK, res.code, string(res.raw))
	m := res.json(e.t)
	return tokenPair{Access: m["access_token"].(string), Refresh: m["refresh_token"].(string)}
}

func (e *identityEnv) admin() tokenPair { return e.login(domain.AdminUsername, testAdminPassword) }

// create POSTs body to path as token and returns the new id.
func (e *identityEnv) create(path, token string, body any) string {
	e.t.Helper()
	res := e.do(http.MethodPost, path, token, body)
	require.Equal(e.t, http.StatusCreated, res.code, string(res.raw))
	return res.json(e.t)["id"].(string)
}

func (e *identityEnv) head() int64 {
	e.t.Helper()
	pos, err := e.store.HeadPosition(context.Background())
	require.NoError(e.t, err)
	return pos
}

// streamTypes lists the event types of one stream.
func (e *identityEnv) streamTypes(streamID string) []string {
	e.t.Helper()
	events, err := e.store.ReadStream(context.Background(), streamID, 0, 1000)
	require.NoError(e.t, err)
	out := make([]string, 0, len(events))
	for _, ev := range events {
		out = append(out, ev.Type)
	}
	return out
}

// allEvents reads the whole log.
func (e *identityEnv) allEvents() []domain.RecordedEvent {
	e.t.Helper()
	var out []domain.RecordedEvent
	var after int64
	for {
		page, err := e.store.ReadAll(context.Background(), after, 1000)
		require.NoError(e.t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

// userWithPolicy creates a policy with statements, a role holding it and a
// user with that role, and returns the user's id and a logged-in pair.
func (e *identityEnv) userWithPolicy(adminToken, name string, statements []map[string]any) (string, tokenPair) {
	e.t.Helper()
	pid := e.create("/api/v1/policies", adminToken, map[string]any{"name": name + "-policy", "statements": statements})
	rid := e.create("/api/v1/roles", adminToken, map[string]any{"name": name + "-role", "policies": []string{pid}})
	pw := "long enough pass phrase 42"
	uid := e.create("/api/v1/users", adminToken, map[string]any{"username": name, "password": pw, "roles": []string{rid}})
	return uid, e.login(name, pw)
}

// newIdentityEnvSharing is a second replica: its own Identity (and so its
// own in-process limiters) over the same event store.
func newIdentityEnvSharing(t testing.TB, e *identityEnv, opts commands.IdentityOptions) *commands.Identity {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := commands.NewService(e.store, nil, logger, commands.Options{})
	opts.LoginIPRate, opts.LoginAccountRate = -1, -1
	ident, err := commands.NewIdentity(svc, commands.IdentityDeps{Hasher: e.hasher, Tokens: e.tokens, DataKeys: e.dataKeys}, opts)
	require.NoError(t, err)
	return ident
}

// newReplicaServer is a second replica's HTTP server over e's log and read
// models: ident's commands, and a read side and authenticator of its own.
func newReplicaServer(t testing.TB, e *identityEnv, ident *commands.Identity) *Server {
	t.Helper()
	reads := vaulttest.NewReads(t, e.db, e.store, nil, nil, queries.Options{})
	authn, err := queries.NewAuthenticator(reads.Service, e.tokens, nil)
	require.NoError(t, err)
	server, err := New(Config{}, Deps{Logger: vaulttest.Logger(), Authenticator: authn})
	require.NoError(t, err)
	server.MountIdentity(IdentityDeps{Commands: ident, Queries: reads.Identity})
	return server
}

// newDataKeys is the data key store over a local keyring with a fresh root
// key, as vaultd runs it without KMS.
var newDataKeys = vaulttest.DataKeys
