package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/seal"
)

// client is a minimal API client for end-to-end tests.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) do(method, path string, body any, headers ...string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != nil {
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
	return resp.StatusCode, data
}

func (c *client) login(username, password string) {
	c.t.Helper()
	status, body := c.do(http.MethodPost, "/api/v1/auth/login", map[string]string{"username": username, "password": password})
	require.Equal(c.t, http.StatusOK, status, string(body))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(c.t, json.Unmarshal(body, &out))
	c.token = out.AccessToken
}

// TestCanaryNeverLeaves plants secret values and passwords, then searches
// every place the service writes — every table (events included), the log
// output, the metrics and every JetStream message — for the values, the
// passwords' Argon2id hashes and their common encodings. A reveal and a
// login prove each is really stored (sealed).
func TestCanaryNeverLeaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDeployment(t)
	adminPassword := "canary-test-" + randomText(t, 16)
	d.env[config.EnvAdminPassword] = adminPassword
	d.env[config.EnvTestMode] = "true"
	smtp := useTestSMTP(t, d) // account mail goes through a real SMTP server
	inst := d.start(t)
	c := &client{t: t, base: inst.baseURL}
	c.login("admin", adminPassword)

	canary := "CANARY-" + randomText(t, 24)
	rotated := "CANARY-ROTATED-" + randomText(t, 24)
	status, body := c.do(http.MethodPost, "/api/v1/secrets", map[string]any{
		"name": "prod/canary", "value": canary, "description": "planted by the canary test", "tags": []string{"canary"},
	})
	require.Equal(t, http.StatusCreated, status, string(body))
	require.NotContains(t, string(body), canary)
	var created struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &created))

	status, body = c.do(http.MethodGet, "/api/v1/secrets/"+created.ID+"/reveal", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), canary, "the value round-trips through encryption")

	status, body = c.do(http.MethodPut, "/api/v1/secrets/"+created.ID+"/rotate", map[string]any{"value": rotated}, "If-Match", "1")
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = c.do(http.MethodGet, "/api/v1/secrets/"+created.ID+"/reveal?version=2", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), rotated)
	// The client's paths: by name, an edit, a server-side rollback (the
	// value re-sealed under version 3's key) and a batch reveal.
	status, body = c.do(http.MethodGet, "/api/v1/secrets/by-name/prod/canary/reveal", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), rotated)
	status, body = c.do(http.MethodPut, "/api/v1/secrets/"+created.ID, map[string]any{"description": "edited by the canary test"})
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = c.do(http.MethodPost, "/api/v1/secrets/"+created.ID+"/rollback", map[string]any{"version": 1})
	require.Equal(t, http.StatusOK, status, string(body))
	require.NotContains(t, string(body), canary)
	status, body = c.do(http.MethodPost, "/api/v1/secrets/reveal", map[string]any{"prefix": "prod/"})
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), canary, "the rollback's version 3 holds version 1's value")
	status, body = c.do(http.MethodPost, "/api/v1/secrets/reveal", map[string]any{"names": []string{"prod/canary"}})
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), canary)
	status, body = c.do(http.MethodGet, "/api/v1/secrets?prefix=prod/", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	status, _ = c.do(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	fileCanary := plantFileCanary(t, c)

	// A planted password, its first Argon2id hash (opened from its sealed
	// form while its key exists), then a second password and hash.
	userPassword := "PLANTED-PW-" + randomText(t, 24)
	newPassword := "PLANTED-PW2-" + randomText(t, 24)
	status, body = c.do(http.MethodPost, "/api/v1/users", map[string]any{"username": "canary", "password": userPassword})
	require.Equal(t, http.StatusCreated, status, string(body))
	require.NoError(t, json.Unmarshal(body, &created))
	userID := created.ID
	userClient := &client{t: t, base: inst.baseURL}
	userClient.login("canary", userPassword)
	hashes := []string{passwordHash(t, inst, userID, 1)}
	status, body = c.do(http.MethodPut, "/api/v1/users/"+userID, map[string]any{"password": newPassword})
	require.Equal(t, http.StatusOK, status, string(body))
	userClient.login("canary", newPassword)
	hashes = append(hashes, passwordHash(t, inst, userID, 2))
	status, body = c.do(http.MethodPost, "/api/v1/auth/login", map[string]string{"username": "canary", "password": userPassword})
	require.Equal(t, http.StatusUnauthorized, status, string(body))

	// Account mail: the tokens of a verification and a reset link, and the
	// passwords set through them.
	mailSecrets := plantAccountEmail(t, inst, c, smtp)
	planted := plantServiceAccount(t, c)

	var needles []string
	encodings := func(v []byte) []string {
		return []string{string(v),
			base64.StdEncoding.EncodeToString(v), base64.RawStdEncoding.EncodeToString(v),
			base64.URLEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v), hex.EncodeToString(v)}
	}
	for _, v := range append(append([]string{canary, rotated, userPassword, newPassword, adminPassword, fileCanary}, mailSecrets...), planted...) {
		needles = append(needles, encodings([]byte(v))...)
	}
	// A file's digest is a fingerprint of its content: whoever reads it
	// can confirm a guess of the content, so it is as secret as the
	// content (the API shows it to those who may read the file).
	fileDigest := sha256.Sum256([]byte(fileCanary))
	needles = append(needles, encodings(fileDigest[:])...)
	for _, h := range hashes {
		needles = append(needles, encodings([]byte(h))...)
		// The PHC string's last field is the raw hash, in unpadded base64.
		parts := strings.Split(h, "$")
		raw, err := base64.RawStdEncoding.DecodeString(parts[len(parts)-1])
		require.NoError(t, err)
		require.Len(t, raw, 32)
		needles = append(needles, encodings(raw)...)
	}
	assertAbsent := func(where, haystack string) {
		t.Helper()
		for _, n := range needles {
			require.NotContains(t, haystack, n, "a planted secret value reached %s", where)
		}
	}

	// Wait until everything downstream has seen the events.
	head, err := inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.NoError(t, inst.app.waiter.WaitFor(ctx, head, 20*time.Second))

	// Every table of the database, as text.
	rows, err := d.db.Pool.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "public.events")
	for _, table := range tables {
		var dump string
		require.NoError(t, d.db.Pool.QueryRow(ctx, fmt.Sprintf("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM %s t", table)).Scan(&dump))
		assertAbsent("table "+table, dump)
	}

	// The metrics endpoint.
	_, metrics := c.do(http.MethodGet, "/metrics", nil)
	assertAbsent("the metrics", string(metrics))

	// Every JetStream message, headers and payload.
	js, err := jetstream.New(natstest.Connect(t, d.nats.URL()))
	require.NoError(t, err)
	var stream jetstream.Stream
	require.Eventually(t, func() bool {
		stream, err = js.Stream(ctx, d.env[config.EnvJetStreamStream])
		if err != nil {
			return false
		}
		info, err := stream.Info(ctx)
		return err == nil && info.State.LastSeq >= uint64(head)
	}, 20*time.Second, 50*time.Millisecond)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	var sawVersionEvent, sawPasswordEvent bool
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		var headers strings.Builder
		for k, vs := range msg.Header {
			fmt.Fprintf(&headers, "%s: %s\n", k, strings.Join(vs, ","))
		}
		assertAbsent("JetStream message "+msg.Subject, headers.String()+string(msg.Data))
		require.NotContains(t, string(msg.Data), `"sealed_`, "ciphertext fields are stripped from the bus")
		if strings.HasSuffix(msg.Subject, ".SecretVersionAdded") {
			sawVersionEvent = true
		}
		if strings.HasSuffix(msg.Subject, ".UserPasswordChanged") {
			sawPasswordEvent = true
		}
	}
	require.True(t, sawVersionEvent, "the secret's events were published")
	require.True(t, sawPasswordEvent, "the user's events were published")

	// The blob storage holds ciphertext only.
	assertAbsent("blob storage", blobDump(t, inst))

	// And the service's own log output, last, so it includes everything.
	inst.stop(t)
	assertAbsent("the log output", d.logSink.String())
}

// passwordHash opens a user's sealed hash of one password version the way
// a login does, so the test knows exactly what must never appear.
func passwordHash(t *testing.T, inst *instance, userID string, version int64) string {
	t.Helper()
	events, err := inst.app.store.ReadStream(context.Background(), domain.StreamID(domain.UserAggregate, userID), 0, 1000)
	require.NoError(t, err)
	var sealed []byte
	for _, ev := range events {
		var p struct {
			Version int64  `json:"password_version"`
			Sealed  []byte `json:"sealed_password"`
		}
		require.NoError(t, json.Unmarshal(ev.Data, &p))
		if p.Version == version && len(p.Sealed) > 0 {
			sealed = p.Sealed
		}
	}
	require.NotEmpty(t, sealed, "version %d of the password is in the log, sealed", version)
	sealer, err := seal.New(inst.app.dataKeys)
	require.NoError(t, err)
	hash, err := sealer.Open(context.Background(), seal.Ref{Purpose: seal.PasswordHash, OwnerID: userID, Version: version}, sealed)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(hash), "$argon2id$"), "a real Argon2id hash")
	return string(hash)
}
