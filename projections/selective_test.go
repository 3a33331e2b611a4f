package projections_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
)

// widgets reads only widget streams (projections.Selective).
type widgets struct{ applied atomic.Int64 }

func (*widgets) Name() string         { return "widgets" }
func (*widgets) Tables() []string     { return []string{"applications"} }
func (*widgets) Aggregates() []string { return []string{"widget"} }
func (w *widgets) Apply(_ context.Context, _ pgx.Tx, events []domain.RecordedEvent) error {
	for _, ev := range events {
		if ev.Aggregate() == "widget" {
			w.applied.Add(1)
		}
	}
	return nil
}
func (*widgets) Reset(context.Context, pgx.Tx) error { return nil }

// TestSelectiveProjectionsSkipOtherPagesAndStayExact: pages holding none of
// a selective projection's streams are skipped without a transaction (its
// stored checkpoint does not move), yet read-your-writes waits and its lag
// count it as caught up; its own event is applied once and stored.
//
// Alone, each WaitFor reads the checkpoints; shared, Run keeps them from the
// checkpoint payloads (with an hour's poll, so only those can tell it).
func TestSelectiveProjectionsSkipOtherPagesAndStayExact(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "shared"}[shared], func(t *testing.T) {
			t.Parallel()
			testSelective(t, shared)
		})
	}
}

func testSelective(t *testing.T, shared bool) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.newProcess(t)
	w := &widgets{}
	r, err := projections.NewRunner(p.pool, e.store, p.listener, discard(), fastOptions(), w)
	require.NoError(t, err)
	run(t, r)
	waiter := projections.NewWaiter(p.pool, p.listener, 20*time.Millisecond)
	if shared {
		waiter = projections.NewWaiter(p.pool, p.listener, time.Hour)
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- waiter.Run(wctx) }()
		t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	}
	waiter.Selective(r.Selective())
	stored := func() int64 {
		var pos int64
		require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT position FROM projection_checkpoints WHERE name = 'widgets'`).Scan(&pos))
		return pos
	}

	head := e.appendEvents(t, 40, 3) // other streams only, over several pages
	require.NoError(t, waiter.WaitFor(ctx, head, waitTimeout, "widgets"))
	require.Zero(t, stored(), "skipped pages store nothing")
	statuses, err := r.Status(ctx)
	require.NoError(t, err)
	require.Zero(t, statuses[0].Lag, "nothing of its own is left to apply")

	res, err := e.store.Append(ctx, domain.StreamID("widget", uuid.NewString()), domain.ExpectNoStream, newEvent(1))
	require.NoError(t, err)
	require.NoError(t, waiter.WaitFor(ctx, res.LastPosition, waitTimeout, "widgets"))
	require.Equal(t, int64(1), w.applied.Load())
	require.Equal(t, res.LastPosition, stored())
}
