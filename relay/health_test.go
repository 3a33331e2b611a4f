package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
)

const pollEvery = 20 * time.Millisecond

// checkFails waits until the relay's readiness check fails and returns its
// message, which must be one an operator may see.
func checkFails(t *testing.T, r *running) string {
	t.Helper()
	var err error
	require.Eventually(t, func() bool {
		err = r.relay.Check(context.Background())
		return err != nil
	}, waitLimit, pollEvery, "the relay's readiness check fails")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	return domain.ErrorMessage(err)
}

func checkPasses(t *testing.T, r *running) {
	t.Helper()
	require.Eventually(t, func() bool { return r.relay.Check(context.Background()) == nil },
		waitLimit, pollEvery, "the relay's readiness check passes")
}

// TestCheckNamesALeaderThatCannotPublish: with NATS gone the leader's
// attempts fail in a row and Check says so, naming the stream; when NATS is
// back the relay catches up and Check passes.
func TestCheckNamesALeaderThatCannotPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nc := natstest.Connect(t, e.nats.URL())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cfg := e.cfg
	cfg.UnhealthyAfter = 2
	run := e.start(t, nc, cfg)
	e.appendEvents(t, 5)
	e.waitCaughtUp(t, js)
	checkPasses(t, run)

	e.nats.Shutdown()
	e.appendEvents(t, 5)
	msg := checkFails(t, run)
	require.Contains(t, msg, "the relay cannot")
	require.Contains(t, msg, cfg.Stream)
	require.Contains(t, msg, "failed attempts in a row")
	require.NotContains(t, msg, "127.0.0.1", "no host names in a probe's answer")

	e.nats.Restart(t)
	e.waitCaughtUp(t, js)
	checkPasses(t, run)
	e.requireExactLog(t, js)
}

// TestCheckNamesALeaderElsewhereThatFallsBehind: a follower cannot see the
// leader's errors, but it sees the stream fall behind the log and says so.
func TestCheckNamesALeaderElsewhereThatFallsBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	// Something else holds the relay's leader lock and publishes nothing.
	holder, err := e.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	_, err = holder.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended('vault_relay:' || $1::text, 0))", e.cfg.Stream)
	require.NoError(t, err)

	nc := natstest.Connect(t, e.nats.URL())
	cfg := e.cfg
	cfg.LagBound = 3
	run := e.start(t, nc, cfg)
	e.appendEvents(t, 2)
	checkPasses(t, run) // behind, but within the bound
	e.appendEvents(t, 4)
	msg := checkFails(t, run)
	require.Contains(t, msg, "6 events behind the log")
	require.Contains(t, msg, "the leader on another replica")

	_, err = holder.Exec(ctx, "SELECT pg_advisory_unlock(hashtextextended('vault_relay:' || $1::text, 0))", e.cfg.Stream)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	e.waitCaughtUp(t, js)
	checkPasses(t, run)
}

// TestCheckNamesARelayFacingAnotherLogsStream is the defect seen in dev
// mode: the JetStream data of an earlier database, whose stream ends past
// this log's head. The relay refuses to publish over it and Check says
// that it stopped, instead of the replica reporting ready.
func TestCheckNamesARelayFacingAnotherLogsStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nc := natstest.Connect(t, e.nats.URL())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	earlier := e.start(t, nc, e.cfg)
	e.appendEvents(t, 8)
	e.waitCaughtUp(t, js)
	earlier.stop(t)

	// A new database, same stream: its log is shorter than the stream.
	other := pgtest.New(t)
	store := eventstore.New(other.AppPool, other.ChainKeys(t), discard(), eventstore.Options{})
	t.Cleanup(store.Close)
	fresh := &env{db: other, store: store, nats: e.nats, notify: e.notify, cfg: e.cfg, canary: e.canary}
	fresh.appendEvents(t, 3)
	run := fresh.start(t, nc, e.cfg)
	msg := checkFails(t, run)
	require.Contains(t, msg, "stopped publishing")
	require.Contains(t, msg, e.cfg.Stream)
	require.Equal(t, int64(8), lastPosition(context.Background(), js, e.cfg.Stream), "nothing was published over the other log's events")
}
