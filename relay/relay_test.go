package relay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/relay"
)

// waitLimit bounds every wait for the relay to catch up. It is a deadline
// against hanging, not a performance assertion.
const waitLimit = 90 * time.Second

type env struct {
	db     *pgtest.Database
	store  *eventstore.Store
	nats   *natstest.Server
	notify *pgnotify.Listener
	cfg    relay.Config
	canary string
}

// newEnv gives a test its own database, NATS server, and a stream name and
// subject prefix of its own, so tests never see each other's messages even
// on a shared server.
func newEnv(t *testing.T) *env {
	t.Helper()
	db := pgtest.New(t)
	logger := discard()
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)
	l := pgnotify.NewListener(db.URL, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	suffix := randomHex(t)
	return &env{
		db:     db,
		store:  store,
		nats:   natstest.Start(t),
		notify: l,
		canary: "CANARY-" + suffix,
		cfg: relay.Config{
			Stream:         "VAULT_EVENTS_" + strings.ToUpper(suffix),
			SubjectPrefix:  "t" + suffix + ".vault.events",
			BatchSize:      64,
			PollInterval:   200 * time.Millisecond,
			LeaderRetry:    200 * time.Millisecond,
			PublishTimeout: 2 * time.Second,
			MaxBackoff:     500 * time.Millisecond,
		},
	}
}

type running struct {
	relay  *relay.Relay
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// start runs a relay with its own NATS connection until stop or the end of
// the test.
func (e *env) start(t *testing.T, nc *nats.Conn, cfg relay.Config) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := relay.New(e.db.AppPool, e.store, nc, e.notify, discard(), reg, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{relay: r, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			require.NoError(t, err, "Run returns nil when its context ends")
			close(r.done)
		}
	case <-time.After(waitLimit):
		t.Fatal("relay did not stop")
	}
}

// appendEvents appends n events across several aggregates, some through
// multi-stream appends, each carrying sealed fields with the canary.
func (e *env) appendEvents(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for written := 0; written < n; {
		size := min(n-written, 1+written%7)
		secret := domain.StreamID("secret", uuid.NewString())
		events := make([]domain.NewEvent, size)
		for i := range events {
			events[i] = e.event(t, "SecretVersionAdded", written+i)
		}
		var err error
		if written%3 == 0 && size > 1 {
			// A reservation stream written in the same transaction, as
			// unique names are.
			_, err = e.store.AppendStreams(ctx,
				domain.StreamAppend{StreamID: secret, Expected: domain.ExpectNoStream, Events: events[:size-1]},
				domain.StreamAppend{StreamID: domain.StreamID("secretname", uuid.NewString()), Expected: domain.ExpectNoStream, Events: events[size-1:]},
			)
		} else {
			_, err = e.store.Append(ctx, secret, domain.ExpectNoStream, events...)
		}
		require.NoError(t, err)
		written += size
	}
}

func (e *env) event(t *testing.T, typ string, n int) domain.NewEvent {
	data, err := json.Marshal(map[string]any{
		"n":            n,
		"name":         fmt.Sprintf("db-password-%d", n),
		"sealed_value": e.canary + "-value",
		"sealed_nonce": e.canary + "-nonce",
		"key":          map[string]any{"key_id": "k1", "sealed_data_key": e.canary + "-key"},
	})
	require.NoError(t, err)
	return domain.NewEvent{
		ID: uuid.NewString(), Type: typ, SchemaVersion: 1, Data: data,
		Metadata: domain.Metadata{Actor: "user-1", ClientIP: "192.0.2.7", RequestID: "req-" + strconv.Itoa(n)},
	}
}

// waitCaughtUp waits until the stream's last message is the log's head.
func (e *env) waitCaughtUp(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	head, err := e.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return lastPosition(ctx, js, e.cfg.Stream) == head
	}, waitLimit, 20*time.Millisecond, "the relay publishes up to position %d", head)
}

func lastPosition(ctx context.Context, js jetstream.JetStream, name string) int64 {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return -1
	}
	m, err := s.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return -1
	}
	p, _ := strconv.ParseInt(m.Header.Get(relay.HeaderPosition), 10, 64)
	return p
}

// requireExactLog checks that the stream holds the whole log, each event
// exactly once, in position order, with the right subject, headers and
// payload, and not one byte of sealed material.
func (e *env) requireExactLog(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	logged, err := e.store.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	require.NotEmpty(t, logged)

	s, err := js.Stream(ctx, e.cfg.Stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(len(logged)), info.State.Msgs, "one message per event: nothing lost, nothing duplicated")
	require.Equal(t, uint64(len(logged)), info.State.LastSeq, "no message was ever stored and removed")

	for i, ev := range logged {
		m, err := s.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		require.Equal(t, strconv.FormatInt(ev.Position, 10), m.Header.Get(relay.HeaderPosition), "sequence %d holds position %d", i+1, ev.Position)
		require.Equal(t, ev.ID, m.Header.Get(jetstream.MsgIDHeader))
		require.Equal(t, ev.StreamID, m.Header.Get(relay.HeaderStream))
		require.Equal(t, strconv.FormatInt(ev.Version, 10), m.Header.Get(relay.HeaderVersion))
		require.Equal(t, ev.Type, m.Header.Get(relay.HeaderType))
		require.Equal(t, "1", m.Header.Get(relay.HeaderSchemaVersion))
		require.Equal(t, e.cfg.SubjectPrefix+"."+ev.Aggregate()+"."+ev.Type, m.Subject)

		require.NotContains(t, string(m.Data), e.canary, "sealed material never reaches the bus")
		for k, vs := range m.Header {
			require.NotContains(t, k+strings.Join(vs, ","), e.canary)
		}
		var env relay.Envelope
		require.NoError(t, json.Unmarshal(m.Data, &env))
		require.Equal(t, ev.Position, env.Position)
		require.Equal(t, ev.StreamID, env.StreamID)
		require.Equal(t, ev.Version, env.Version)
		require.Equal(t, ev.ID, env.EventID)
		require.Equal(t, ev.Type, env.Type)
		require.Equal(t, ev.SchemaVersion, env.SchemaVersion)
		require.Equal(t, ev.Metadata, env.Metadata)
		require.True(t, ev.RecordedAt.Equal(env.RecordedAt))
		redacted, err := domain.RedactForBus(ev.Data)
		require.NoError(t, err)
		require.JSONEq(t, string(redacted), string(env.Data))
		require.Contains(t, string(env.Data), `"name"`, "the rest of the payload is kept")
	}
}

func TestRelayPublishesTheLogInOrderRedacted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	nc := natstest.Connect(t, e.nats.URL())
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	e.appendEvents(t, 300) // a backlog from before the relay started
	run := e.start(t, nc, e.cfg)
	e.waitCaughtUp(t, js)
	e.appendEvents(t, 50) // live events, picked up on notification
	e.waitCaughtUp(t, js)
	e.requireExactLog(t, js)

	st, err := run.relay.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, relay.Status{Stream: e.cfg.Stream, Leader: true, Published: 350, Head: 350, Lag: 0}, st)
	require.Equal(t, 350.0, metric(t, run.reg, "vault_relay_published_total"))
	require.Equal(t, 1.0, metric(t, run.reg, "vault_relay_leader"))

	info, err := js.Stream(ctx, e.cfg.Stream)
	require.NoError(t, err)
	cfg := info.CachedInfo().Config
	require.Equal(t, []string{e.cfg.SubjectPrefix + ".>"}, cfg.Subjects)
	require.Equal(t, jetstream.FileStorage, cfg.Storage)
	require.Equal(t, relay.DefaultDuplicateWindow, cfg.Duplicates)
}

func TestRelayCatchesUpAfterNATSOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	nc := natstest.Connect(t, e.nats.URL())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	run := e.start(t, nc, e.cfg)
	e.appendEvents(t, 40)
	e.waitCaughtUp(t, js)

	e.nats.Shutdown()
	// Appends do not depend on NATS: every one of them succeeds.
	e.appendEvents(t, 200)
	require.Eventually(t, func() bool { return metric(t, run.reg, "vault_relay_publish_errors_total") > 0 },
		waitLimit, 20*time.Millisecond, "the relay notices the outage and keeps retrying")
	st, err := run.relay.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(40), st.Published, "nothing is acknowledged while NATS is down")
	require.Equal(t, int64(200), st.Lag)

	e.nats.Restart(t)
	e.waitCaughtUp(t, js)
	e.requireExactLog(t, js)
	st, err = run.relay.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(0), st.Lag)
}

func TestRelayKilledMidBatchResumesWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	const total = 4000
	cases := []struct {
		name string
		// kill stops the first relay abruptly once publishing is under way.
		kill func(run *running, nc *nats.Conn)
		// cleanCheckpoint: a graceful stop leaves the checkpoint equal to
		// the stream's last position.
		cleanCheckpoint bool
	}{
		{"context cancelled", func(run *running, _ *nats.Conn) { run.cancel() }, true},
		{"NATS connection closed", func(_ *running, nc *nats.Conn) { nc.Close() }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			e.cfg.BatchSize = total // one big batch, so the kill lands while it is being sent
			e.appendEvents(t, total)
			observer := natstest.Connect(t, e.nats.URL())
			js, err := jetstream.New(observer)
			require.NoError(t, err)

			nc1 := natstest.Connect(t, e.nats.URL())
			var run1 atomic.Pointer[running]
			started := make(chan struct{})
			var seen atomic.Int64
			killed := make(chan struct{})
			var once sync.Once
			// The core subscription sees messages as the stream stores them:
			// kill the relay while its first batches are in flight.
			sub, err := observer.Subscribe(e.cfg.SubjectPrefix+".>", func(*nats.Msg) {
				if seen.Add(1) == 300 {
					once.Do(func() { <-started; tc.kill(run1.Load(), nc1); close(killed) })
				}
			})
			require.NoError(t, err)
			defer func() { _ = sub.Unsubscribe() }()
			run1.Store(e.start(t, nc1, e.cfg))
			close(started)
			select {
			case <-killed:
			case <-time.After(waitLimit):
				t.Fatal("the relay never started publishing")
			}
			run1.Load().stop(t)

			stored := lastPosition(ctx, js, e.cfg.Stream)
			require.Positive(t, stored)
			require.Less(t, stored, int64(total), "the first relay stopped part-way")
			if tc.cleanCheckpoint {
				st, err := run1.Load().relay.Status(ctx)
				require.NoError(t, err)
				require.Equal(t, stored, st.Published, "a graceful stop checkpoints exactly what the stream holds")
			}
			checkpoint, err := run1.Load().relay.Status(ctx)
			require.NoError(t, err)
			t.Logf("first relay stored %d of %d events; its checkpoint says %d", stored, total, checkpoint.Published)

			run2 := e.start(t, natstest.Connect(t, e.nats.URL()), e.cfg)
			e.waitCaughtUp(t, js)
			e.requireExactLog(t, js)
			require.Equal(t, float64(int64(total)-stored), metric(t, run2.reg, "vault_relay_published_total"),
				"the second relay resumed right after the stream's last message")
		})
	}
}

// A message JetStream refuses in the middle of a pipelined batch must stop
// everything after it: the stream may fall behind, never skip or reorder.
// The refusal here is an operator's message-size limit, which the relay
// keeps (it only owns the subjects and the duplicate window).
func TestRelayNeverPublishesPastARejectedEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	nc := natstest.Connect(t, e.nats.URL())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: e.cfg.Stream, Subjects: []string{e.cfg.SubjectPrefix + ".>"}, Storage: jetstream.FileStorage,
		Duplicates: relay.DefaultDuplicateWindow, MaxMsgSize: 4096,
	})
	require.NoError(t, err)

	e.appendEvents(t, 20)
	big := e.event(t, "FileUploaded", 20)
	big.Data, err = json.Marshal(map[string]string{"name": "big", "description": strings.Repeat("x", 8192)})
	require.NoError(t, err)
	_, err = e.store.Append(ctx, domain.StreamID("file", uuid.NewString()), domain.ExpectNoStream, big)
	require.NoError(t, err)
	e.appendEvents(t, 30) // in the same batch as the big event, after it

	run := e.start(t, nc, e.cfg)
	require.Eventually(t, func() bool { return metric(t, run.reg, "vault_relay_publish_errors_total") >= 3 },
		waitLimit, 20*time.Millisecond, "the relay retries the refused event")
	s, err := js.Stream(ctx, e.cfg.Stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(20), info.State.Msgs, "nothing after the refused event was stored")
	require.Equal(t, int64(20), lastPosition(ctx, js, e.cfg.Stream))
	st, err := run.relay.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(20), st.Published)
	require.Equal(t, int64(31), st.Lag)

	cfg := info.Config
	cfg.MaxMsgSize = -1
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	e.waitCaughtUp(t, js)
	e.requireExactLog(t, js)
}

func TestTwoRelaysPublishEachEventOnceInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	observer := natstest.Connect(t, e.nats.URL())
	js, err := jetstream.New(observer)
	require.NoError(t, err)
	a := e.start(t, natstest.Connect(t, e.nats.URL()), e.cfg)
	b := e.start(t, natstest.Connect(t, e.nats.URL()), e.cfg)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { e.appendEvents(t, 150) })
	}
	wg.Wait()
	e.waitCaughtUp(t, js)
	leader, follower := leaderOf(t, a, b)

	// The leader's PostgreSQL session dies (a crashed vaultd): its lock goes
	// with it and whichever relay wins the lock next carries on.
	su := e.db.Superuser(t)
	var terminated bool
	require.NoError(t, su.QueryRow(ctx,
		`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
	).Scan(&terminated))
	require.True(t, terminated)
	e.appendEvents(t, 200)
	e.waitCaughtUp(t, js)

	// A graceful stop of the leader hands over too.
	leader, follower = leaderOf(t, leader, follower)
	leader.stop(t)
	e.appendEvents(t, 200)
	e.waitCaughtUp(t, js)
	st, err := follower.relay.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Leader)

	e.requireExactLog(t, js)
}

// leaderOf waits until exactly one of two relays leads and returns it first.
func leaderOf(t *testing.T, a, b *running) (leader, follower *running) {
	t.Helper()
	require.Eventually(t, func() bool {
		sa, errA := a.relay.Status(context.Background())
		sb, errB := b.relay.Status(context.Background())
		if errA != nil || errB != nil || sa.Leader == sb.Leader {
			return false
		}
		leader, follower = a, b
		if sb.Leader {
			leader, follower = b, a
		}
		return true
	}, waitLimit, 20*time.Millisecond, "exactly one relay leads")
	return leader, follower
}

func TestNewRejectsBadNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  relay.Config
	}{
		{"stream with a dot", relay.Config{Stream: "VAULT.EVENTS"}},
		{"stream with a wildcard", relay.Config{Stream: "VAULT_*"}},
		{"prefix with a wildcard", relay.Config{SubjectPrefix: "vault.*"}},
		{"prefix with an empty token", relay.Config{SubjectPrefix: "vault..events"}},
		{"prefix ending in a dot", relay.Config{SubjectPrefix: "vault.events."}},
	}
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv.URL())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := relay.New(nil, nil, nc, nil, discard(), nil, tc.cfg)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "error: %v", err)
		})
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	cases := []struct {
		stream, typ, want string
	}{
		{"secret-123", "SecretCreated", "p.secret.SecretCreated"},
		{"user-a-b", "UserRegistered", "p.user.UserRegistered"},
		{"odd.stream>*", "Type With Spaces", "p.odd_stream__.Type_With_Spaces"},
		{"x", "", "p.x._"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, relay.Subject("p", domain.RecordedEvent{StreamID: tc.stream, Type: tc.typ}))
		})
	}
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	return 0
}

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
