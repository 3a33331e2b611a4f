package projections

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/pgtrace"
	"github.com/securevault/vault/projections/internal/projdb"
)

// waiterDeadline bounds a wait that must succeed: a guard against hanging,
// not a performance assertion.
const waiterDeadline = 30 * time.Second

// waiterEnv is a database with one checkpoint, a writer that advances it
// (another process, as far as the waiter knows), and a shared waiter whose
// pool counts its statements.
type waiterEnv struct {
	db       *pgtest.Database
	writer   *pgxpool.Pool
	counter  *pgtrace.Counter
	listener *pgnotify.Listener
	waiter   *Waiter
}

// newWaiterEnv starts a waiter's Run with the given poll interval and
// returns once its view is shared and it is listening, so what follows is
// counted from a steady state.
func newWaiterEnv(t *testing.T, poll time.Duration) *waiterEnv {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	q := projdb.New()
	require.NoError(t, q.EnsureCheckpoint(ctx, db.AppPool, "p"))

	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	counter := &pgtrace.Counter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	l := pgnotify.NewListener(db.URL, logger)
	lctx, lcancel := context.WithCancel(ctx)
	ldone := make(chan struct{})
	go func() { defer close(ldone); _ = l.Run(lctx) }()
	t.Cleanup(func() { lcancel(); <-ldone })

	// The listener wakes every subscriber once its LISTEN took effect; a
	// waiter that subscribes afterwards sees no loss unless it reconnects.
	probe, cancelProbe := l.Subscribe(pgnotify.ChannelCheckpoints)
	<-probe
	cancelProbe()

	w := NewWaiter(pool, l, poll)
	wctx, wcancel := context.WithCancel(ctx)
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	t.Cleanup(func() { wcancel(); require.NoError(t, <-wdone) })
	for {
		w.mu.Lock()
		shared, changed := w.shared, w.changed
		w.mu.Unlock()
		if shared {
			break
		}
		<-changed
	}

	e := &waiterEnv{db: db, writer: db.AppPool, counter: counter, listener: l, waiter: w}
	e.advance(t, 1)
	require.NoError(t, w.WaitFor(ctx, 1, waiterDeadline, "p"))
	return e
}

// advance commits the checkpoint of p at position, with the real query.
func (e *waiterEnv) advance(t *testing.T, position int64) {
	t.Helper()
	n, err := projdb.New().AdvanceCheckpoint(context.Background(), e.writer, projdb.AdvanceCheckpointParams{Name: "p", Position: position})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

// setSilently moves the checkpoint without a notification: a notification
// that never comes.
func (e *waiterEnv) setSilently(t *testing.T, position int64) {
	t.Helper()
	_, err := e.db.Pool.Exec(context.Background(), `UPDATE projection_checkpoints SET position = $1 WHERE name = 'p'`, position)
	require.NoError(t, err)
}

// TestWaiterFollowsCheckpointPayloadsWithoutReading: after N checkpoint
// advances committed elsewhere, a WaitFor for the last position returns
// without the waiter sending a single statement, whatever N (the poll is an
// hour away, so only the payloads can have told it).
func TestWaiterFollowsCheckpointPayloadsWithoutReading(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{1, 10, 60} {
		t.Run(fmt.Sprintf("%d advances", n), func(t *testing.T) {
			t.Parallel()
			e := newWaiterEnv(t, time.Hour)
			before := e.counter.Count()
			for p := int64(2); p <= n+1; p++ {
				e.advance(t, p)
			}
			require.NoError(t, e.waiter.WaitFor(context.Background(), n+1, waiterDeadline, "p"))
			require.Zero(t, e.counter.Count()-before, "statements the waiter sent for %d advances", n)
		})
	}
}

// TestWaiterNeverReturnsBeforeTheCheckpointCommits: an advance inside an
// open transaction is invisible to WaitFor, even after the waiter has taken
// a later notification (of another projection), until the commit.
func TestWaiterNeverReturnsBeforeTheCheckpointCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWaiterEnv(t, time.Hour)
	q := projdb.New()
	require.NoError(t, q.EnsureCheckpoint(ctx, e.writer, "other"))

	tx, err := e.writer.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	n, err := q.AdvanceCheckpoint(ctx, tx, projdb.AdvanceCheckpointParams{Name: "p", Position: 50})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	done := make(chan error, 1)
	go func() { done <- e.waiter.WaitFor(ctx, 50, waiterDeadline, "p") }()

	// A notification committed after the open advance reaches the waiter;
	// WaitFor for it returning proves the waiter is past it.
	n, err = q.AdvanceCheckpoint(ctx, e.writer, projdb.AdvanceCheckpointParams{Name: "other", Position: 7})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.NoError(t, e.waiter.WaitFor(ctx, 7, waiterDeadline, "other"))
	select {
	case err := <-done:
		t.Fatalf("WaitFor returned (%v) before the checkpoint committed", err)
	default:
	}

	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done)
}

// TestWaiterReadsWhenThePayloadsCannotTell: each way a checkpoint can move
// without a payload the waiter can trust makes it read, and it then sees
// the checkpoint.
func TestWaiterReadsWhenThePayloadsCannotTell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		poll time.Duration
		// move moves p to 40 in a way the payloads do not tell.
		move func(t *testing.T, e *waiterEnv)
	}{
		{"a notification that never comes, caught by the poll", 20 * time.Millisecond, func(t *testing.T, e *waiterEnv) {
			e.setSilently(t, 40)
		}},
		{"an old-format payload (the name alone)", time.Hour, func(t *testing.T, e *waiterEnv) {
			e.setSilently(t, 40)
			_, err := e.db.Pool.Exec(context.Background(), `SELECT pg_notify('vault_checkpoints', 'p')`)
			require.NoError(t, err)
		}},
		{"a payload that does not parse", time.Hour, func(t *testing.T, e *waiterEnv) {
			e.setSilently(t, 40)
			_, err := e.db.Pool.Exec(context.Background(), `SELECT pg_notify('vault_checkpoints', 'p:forty')`)
			require.NoError(t, err)
		}},
		{"the listener reconnects (notifications lost meanwhile)", time.Hour, func(t *testing.T, e *waiterEnv) {
			e.setSilently(t, 40)
			var killed int
			require.NoError(t, e.db.Pool.QueryRow(context.Background(), `
				SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %'`).Scan(&killed))
			require.Equal(t, 1, killed, "the listener's connection")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newWaiterEnv(t, tt.poll)
			before := e.counter.Count()
			tt.move(t, e)
			require.NoError(t, e.waiter.WaitFor(context.Background(), 40, waiterDeadline, "p"))
			require.Positive(t, e.counter.Count()-before, "the waiter read the checkpoints")
		})
	}
}

// TestWaiterViewNeverMovesBack: a stale payload (lower than what the view
// holds) changes nothing, and the database refuses to move a checkpoint
// back, so no payload can announce it.
func TestWaiterViewNeverMovesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWaiterEnv(t, time.Hour)
	e.advance(t, 30)
	require.NoError(t, e.waiter.WaitFor(ctx, 30, waiterDeadline, "p"))

	n, err := projdb.New().AdvanceCheckpoint(ctx, e.writer, projdb.AdvanceCheckpointParams{Name: "p", Position: 10})
	require.NoError(t, err)
	require.Zero(t, n, "a checkpoint never moves back")
	_, err = e.db.Pool.Exec(ctx, `SELECT pg_notify('vault_checkpoints', 'p:10')`)
	require.NoError(t, err)
	e.advance(t, 31) // sent after the stale payload, so taken after it
	require.NoError(t, e.waiter.WaitFor(ctx, 31, waiterDeadline, "p"))
	e.waiter.mu.Lock()
	at := e.waiter.known["p"]
	e.waiter.mu.Unlock()
	require.Equal(t, int64(31), at)
}

func TestParseCheckpoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payloads []string
		seen     map[string]int64
		complete bool
	}{
		{nil, nil, true},
		{[]string{"secrets:12"}, map[string]int64{"secrets": 12}, true},
		{[]string{"a:3", "a:9", "a:5", "b:1"}, map[string]int64{"a": 9, "b": 1}, true},
		{[]string{"odd:name:4"}, map[string]int64{"odd:name": 4}, true},
		{[]string{"secrets"}, nil, false},
		{[]string{"a:2", "secrets", "b:x", ":4", "c:-1"}, map[string]int64{"a": 2}, false},
	}
	for _, tt := range tests {
		seen, complete := parseCheckpoints(tt.payloads)
		require.Equal(t, tt.seen, seen, "%q", tt.payloads)
		require.Equal(t, tt.complete, complete, "%q", tt.payloads)
	}
}
