package checkpoint_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/integrity"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/tamper"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// TestCheckpointsAreAlsoMadeByTime: when events have waited Interval
// without a checkpoint, the head is signed whatever its position, so a
// slowly growing log still has a recent witness outside the database.
func TestCheckpointsAreAlsoMadeByTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	clk := &clock{now: time.Now()}
	s, err := checkpoint.NewSigner(f.db.AppPool, f.store, f.key, nil, nil, slog.New(slog.DiscardHandler),
		checkpoint.Config{Deployment: "test", Every: 1000, Interval: time.Minute, Now: clk.Now})
	require.NoError(t, err)

	appendEvents(t, f.store, 3, "slow")
	pos, err := s.Tick(ctx)
	require.NoError(t, err)
	require.Zero(t, pos, "the events have not waited a minute yet")

	clk.set(time.Now().Add(2 * time.Minute))
	pos, err = s.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), pos, "the head is signed once its oldest unsigned event waited the interval")
	pos, err = s.Tick(ctx)
	require.NoError(t, err)
	require.Zero(t, pos, "no new events, no new checkpoint")

	appendEvents(t, f.store, 2, "later")
	pos, err = s.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(5), pos)
	c, err := checkpoint.Latest(ctx, f.db.AppPool)
	require.NoError(t, err)
	report, err := checkpoint.Check(ctx, f.store, c, f.key.Public().(ed25519.PublicKey), nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)
}

// TestSignerNeverSignsAForgedLink: the signer reads what it signs through
// the store's checks, so a rewritten event at a due position is refused
// instead of being given a signature.
func TestSignerNeverSignsAForgedLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	appendEvents(t, f.store, 10, "original")
	tamper.Rechain(t, f.db.Superuser(t), 10, func(data string) string { return strings.Replace(data, "original", "forged", 1) })
	s, err := checkpoint.NewSigner(f.db.AppPool, f.store, f.key, nil, nil, slog.New(slog.DiscardHandler), checkpoint.Config{Deployment: "test", Every: 10})
	require.NoError(t, err)
	_, err = s.Tick(ctx)
	require.Error(t, err)
	_, err = checkpoint.Latest(ctx, f.db.AppPool)
	require.Error(t, err, "nothing was signed")
}

// TestSignerWitnessTripsTheAlarmOnARewrittenOrCutLog: the checkpoint stream outlives
// the database. A signer starting on a log cut back below the newest
// published checkpoint trips the alarm, naming the first missing position.
func TestSignerWitnessTripsTheAlarmOnARewrittenOrCutLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	ns := natstest.Start(t)
	stream := "EV_" + strings.ToUpper(uuid.NewString()[:8])
	newSigner := func(alarm checkpoint.Alarm) *checkpoint.Signer {
		jp, err := checkpoint.NewJetStreamPublisher(natstest.Connect(t, ns.URL()), stream, "t"+strings.ToLower(stream)+".events")
		require.NoError(t, err)
		// A fresh store each time: a replica that just started, with
		// nothing cached about the log.
		store := eventstore.New(f.db.AppPool, f.db.ChainKeys(t), slog.New(slog.DiscardHandler), eventstore.Options{})
		t.Cleanup(store.Close)
		s, err := checkpoint.NewSigner(f.db.AppPool, store, f.key, jp, nil, slog.New(slog.DiscardHandler),
			checkpoint.Config{Deployment: "test", Every: 10, PollInterval: 20 * time.Millisecond, Alarm: alarm})
		require.NoError(t, err)
		return s
	}
	appendEvents(t, f.store, 25, "original")
	pos, err := newSigner(nil).Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(20), pos)

	t.Run("an intact log passes", func(t *testing.T) {
		latch := integrity.NewLatch(slog.New(slog.DiscardHandler), nil)
		require.NoError(t, newSigner(latch).CheckWitness(ctx))
		require.False(t, latch.Tripped())
	})
	t.Run("a log rewritten from position 1 in unkeyed form trips", func(t *testing.T) {
		// The one rewrite a replica's own reads cannot see after a restart:
		// every link SHA-256, as if the log had never been keyed.
		tamper.RechainFrom(t, f.db.Superuser(t), 1)
		latch := integrity.NewLatch(slog.New(slog.DiscardHandler), nil)
		require.NoError(t, newSigner(latch).CheckWitness(ctx))
		v, ok := latch.Violation()
		require.True(t, ok)
		require.Equal(t, int64(20), v.Position, v.Reason)
		require.Contains(t, v.Reason, "rewritten")
	})
	t.Run("a log cut below the checkpoint trips", func(t *testing.T) {
		tamper.TruncateTail(t, f.db.Superuser(t), 15)
		latch := integrity.NewLatch(slog.New(slog.DiscardHandler), nil)
		require.NoError(t, newSigner(latch).CheckWitness(ctx))
		v, ok := latch.Violation()
		require.True(t, ok)
		require.Equal(t, int64(16), v.Position, v.Reason)
		require.Contains(t, v.Reason, "tail was cut")
	})
}
