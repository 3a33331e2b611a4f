package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
)

// instance is one vaultd process inside the test, serving on loopback.
type instance struct {
	app     *app
	baseURL string
	// metricsURL is the metrics listener's, when VAULT_METRICS_ADDR is set.
	metricsURL string
	cancel     context.CancelFunc
	done       chan error
}

// deployment is what several instances share: one database, one NATS.
type deployment struct {
	db      *pgtest.Database
	nats    *natstest.Server
	env     map[string]string
	logSink *syncBuffer
	// devDatabase, when set, keeps dev state per database as `make run`
	// does (devstate.Database).
	devDatabase config.DevDatabaseFunc
}

func newDeployment(t testing.TB) *deployment {
	t.Helper()
	db := pgtest.New(t)
	ns := natstest.Start(t)
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	return &deployment{
		db:      db,
		nats:    ns,
		logSink: &syncBuffer{},
		env: map[string]string{
			config.EnvMode:            "dev",
			config.EnvDatabaseURL:     db.URL,
			config.EnvNATSURL:         ns.URL(),
			config.EnvSecretKey:       randomText(t, 48),
			config.EnvEncryptionKey:   base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
			config.EnvChainKey:        base64.StdEncoding.EncodeToString(db.ChainKey),
			config.EnvDataDir:         t.TempDir(),
			config.EnvJetStreamStream: "VAULT_TEST_" + suffix,
			config.EnvSubjectPrefix:   "test" + suffix + ".events",
			config.EnvRateLimitRPS:    "0",
			config.EnvShutdownTimeout: "10s",
			config.EnvAdminPassword:   testAdminPassword,
		},
	}
}

func (d *deployment) start(t testing.TB) *instance {
	t.Helper()
	ctx := context.Background()
	lookup := func(name string) (string, bool) { v, ok := d.env[name]; return v, ok }
	logger := slog.New(slog.NewJSONHandler(d.logSink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := config.LoadWith(ctx, config.Options{Lookup: lookup, Logger: logger, DevDatabase: d.devDatabase})
	require.NoError(t, err)
	a, err := newApp(ctx, cfg, logger, io.Discard)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	scheme := "http://"
	if cfg.TLS() {
		scheme = "https://"
	}
	inst := &instance{app: a, baseURL: scheme + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		metricsLn, err = net.Listen("tcp", cfg.MetricsAddr)
		require.NoError(t, err)
		inst.metricsURL = scheme + metricsLn.Addr().String()
	}
	go func() { inst.done <- a.serve(runCtx, ln, metricsLn) }()
	t.Cleanup(func() { inst.stop(t) })
	return inst
}

// stop is SIGTERM: serve must return cleanly and release everything.
func (i *instance) stop(t testing.TB) {
	if i.cancel == nil {
		return
	}
	i.cancel()
	i.cancel = nil
	select {
	case err := <-i.done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("vaultd did not shut down within 30s")
	}
	i.app.close()
}

// testAdminPassword is the bootstrap admin's password in every deployment.
const testAdminPassword = "correct-horse-battery-staple"

// adminClient is a client logged in as the bootstrap admin.
func (i *instance) adminClient(t *testing.T) *client {
	t.Helper()
	c := &client{t: t, base: i.baseURL}
	c.login("admin", testAdminPassword)
	return c
}

// awaitReady waits, at most within, until the instance answers /readyz
// with 200.
func (i *instance) awaitReady(t testing.TB, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return i.getJSON(t, "/readyz", nil) == http.StatusOK }, within, 50*time.Millisecond)
}

func (i *instance) getJSON(t testing.TB, path string, out any) int {
	t.Helper()
	resp, err := http.Get(i.baseURL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func TestTwoInstancesShareOneLogWithoutDoubleWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDeployment(t)
	a := d.start(t)
	b := d.start(t)

	for _, inst := range []*instance{a, b} {
		inst.awaitReady(t, 20*time.Second)
		require.Equal(t, http.StatusOK, inst.getJSON(t, "/healthz", nil))
	}

	// The status endpoint needs a token; logging in appends events, so it
	// happens before the count below starts.
	statusClient := b.adminClient(t)

	// Both instances append concurrently; each event must reach the read model
	// once and JetStream once, in log order.
	base, err := a.app.store.HeadPosition(ctx) // the bootstrap's and the login's events
	require.NoError(t, err)
	require.Positive(t, base)
	const perInstance = 150
	var wg sync.WaitGroup
	for _, inst := range []*instance{a, b} {
		wg.Go(func() {
			stream := "thing-" + uuid.NewString()
			for i := range perInstance {
				_, err := inst.app.store.Append(ctx, stream, domain.ExpectVersion(int64(i)), domain.NewEvent{
					ID: uuid.NewString(), Type: "ThingChanged", SchemaVersion: 1, Data: json.RawMessage(`{"n":1}`),
					Metadata: domain.Metadata{Actor: domain.SystemActor},
				})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	head, err := a.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, base+2*perInstance, head)

	// Read-your-writes across processes: a waiter in b sees a's projection.
	require.NoError(t, b.app.waiter.WaitFor(ctx, head, 20*time.Second, "streams"))
	var total int64
	require.NoError(t, d.db.Pool.QueryRow(ctx, "SELECT COALESCE(sum(version), 0) FROM stream_catalog").Scan(&total))
	require.Equal(t, head, total, "every event applied exactly once")

	js, err := jetstream.New(natstest.Connect(t, d.nats.URL()))
	require.NoError(t, err)
	var info *jetstream.StreamInfo
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, d.env[config.EnvJetStreamStream])
		if err != nil {
			return false
		}
		info, err = s.Info(ctx)
		return err == nil && info.State.Msgs == uint64(head)
	}, 20*time.Second, 50*time.Millisecond, "relay publishes every event once")
	stream, err := js.Stream(ctx, d.env[config.EnvJetStreamStream])
	require.NoError(t, err)
	for seq := uint64(1); seq <= uint64(head); seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(seq), msg.Header.Get("Vault-Position"), "JetStream order is log order")
	}

	// Only "streams" was waited for above; the other projections catch up
	// on their own, and the status must come to say so.
	require.Eventually(t, func() bool {
		var status statusBody
		statusCode, statusRaw := statusClient.do(http.MethodGet, "/api/v1/status", nil)
		if statusCode != http.StatusOK || json.Unmarshal(statusRaw, &status) != nil || len(status.Projections) == 0 {
			return false
		}
		for _, p := range status.Projections {
			if p.Lag != 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "every projection reports no lag")

	// Metrics are exposed in the Prometheus text format.
	resp, err := http.Get(a.baseURL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), "vault_eventstore_append_seconds")
	require.Contains(t, string(body), "vault_http_requests_total")

	// Stopping one instance (SIGTERM) leaves the other doing all the work.
	a.stop(t)
	_, err = b.app.store.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, domain.NewEvent{
		ID: uuid.NewString(), Type: "ThingChanged", SchemaVersion: 1, Data: json.RawMessage(`{}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.NoError(t, err)
	require.NoError(t, b.app.waiter.WaitFor(ctx, head+1, 20*time.Second, "streams"))
	require.Eventually(t, func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Msgs == uint64(head+1)
	}, 30*time.Second, 50*time.Millisecond, "the surviving instance's relay takes over")
}

func TestProductionModeRefusesMissingKeys(t *testing.T) {
	t.Parallel()
	lookup := func(name string) (string, bool) {
		if name == config.EnvMode {
			return "production", true
		}
		return "", false
	}
	_, err := config.LoadFrom(context.Background(), lookup, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	for _, name := range []string{config.EnvSecretKey, config.EnvEncryptionKey, config.EnvAdminPassword, config.EnvCheckpointKey, config.EnvChainKey} {
		require.ErrorContains(t, err, name)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func randomText(t testing.TB, n int) string { return hex.EncodeToString(randomBytes(t, n/2)) }
