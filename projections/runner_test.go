package projections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/streams"
)

// waitTimeout bounds waits that should end within milliseconds; it only
// keeps a broken runner from hanging the test run.
const waitTimeout = time.Minute

func TestNewRunnerRejectsBadRegistrations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		projections []projections.Projection
		code        string
	}{
		{"empty name", []projections.Projection{&counting{name: ""}}, domain.EINVALID},
		{"duplicate name", []projections.Projection{&counting{name: "x"}, &counting{name: "x"}}, domain.EINVALID},
		{"distinct names", []projections.Projection{&counting{name: "x"}, streams.New()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := projections.NewRunner(nil, nil, nil, discard(), projections.Options{}, tt.projections...)
			require.Equal(t, tt.code, domain.ErrorCode(err))
		})
	}
}

func TestRunRefusesAMissingTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := &missingTable{counting{name: "ghost"}}
	r, err := projections.NewRunner(e.db.Pool, e.store, nil, discard(), fastOptions(), p)
	require.NoError(t, err)
	err = r.Run(context.Background())
	require.ErrorContains(t, err, "no_such_table")
}

type missingTable struct{ counting }

func (*missingTable) Tables() []string { return []string{"no_such_table"} }

// The runner applies events appended before and while it runs, across many
// pages and streams, each exactly once, and the streams catalog matches a
// plain fold of the log.
func TestRunnerAppliesEveryEventExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newProcess(t)
	before := e.appendEvents(t, 50, 7)
	require.Equal(t, int64(50), before)

	count := &counting{name: "counting"}
	r, err := projections.NewRunner(p.pool, e.store, p.listener, discard(), fastOptions(), count, streams.New())
	require.NoError(t, err)
	run(t, r)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { e.appendEvents(t, 60, 5) })
	}
	wg.Wait()
	head, err := e.store.HeadPosition(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(290), head)

	w := projections.NewWaiter(p.pool, p.listener, 0)
	require.NoError(t, w.WaitFor(context.Background(), head, waitTimeout, "counting", streams.Name))
	requireAppliedOnce(t, e.db, head)
	require.Equal(t, e.foldCatalog(t), readCatalog(t, e.db.Pool))

	statuses, err := r.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, statuses, 2)
	for _, s := range statuses {
		require.Equal(t, head, s.Checkpoint, s.Name)
		require.Equal(t, int64(0), s.Lag, s.Name)
	}
}

// redelivering wraps the real store and hands every page out again with the
// events before it, as a replaying transport would.
type redelivering struct {
	projections.EventReader
	rewind int64
}

func (r redelivering) ReadAll(ctx context.Context, after int64, limit int) ([]domain.RecordedEvent, error) {
	from := max(0, after-r.rewind)
	return r.EventReader.ReadAll(ctx, from, limit+int(after-from))
}

func TestRedeliveredEventsChangeNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rewind int64
	}{
		{"overlapping pages", 5},
		{"whole page again", 16},
		{"more than a page again", 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			head := e.appendEvents(t, 120, 9)
			count := &counting{name: "counting"}
			r, err := projections.NewRunner(e.db.Pool, redelivering{e.store, tt.rewind}, nil, discard(), fastOptions(), count, streams.New())
			require.NoError(t, err)
			run(t, r)
			w := projections.NewWaiter(e.db.Pool, nil, 5*time.Millisecond)
			require.NoError(t, w.WaitFor(context.Background(), head, waitTimeout, "counting", streams.Name))
			requireAppliedOnce(t, e.db, head)
			require.Equal(t, e.foldCatalog(t), readCatalog(t, e.db.Pool))
		})
	}
}

// Two runners on one database, as two vaultd processes: every event is
// applied once, whichever of them applied it.
func TestTwoRunnersNeverDoubleApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := fastOptions()
	opts.PageSize = 3 // many small transactions: many chances to collide
	for range 2 {
		p := e.newProcess(t)
		r, err := projections.NewRunner(p.pool, e.store, p.listener, discard(), opts, &counting{name: "counting"}, streams.New())
		require.NoError(t, err)
		run(t, r)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { e.appendEvents(t, 75, 4) })
	}
	wg.Wait()
	head, err := e.store.HeadPosition(context.Background())
	require.NoError(t, err)
	w := projections.NewWaiter(e.db.Pool, nil, 5*time.Millisecond)
	require.NoError(t, w.WaitFor(context.Background(), head, waitTimeout, "counting", streams.Name))
	requireAppliedOnce(t, e.db, head)
	require.Equal(t, e.foldCatalog(t), readCatalog(t, e.db.Pool))
}

// A rebuild while appends continue and the runner keeps applying ends with
// the same read model as incremental application, and readers see the old
// rows until it commits.
func TestRebuildWhileAppendsContinue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newProcess(t)
	count := &counting{name: "counting"}
	r, err := projections.NewRunner(p.pool, e.store, p.listener, discard(), fastOptions(), count, streams.New())
	require.NoError(t, err)
	run(t, r)
	first := e.appendEvents(t, 200, 11)
	w := projections.NewWaiter(p.pool, p.listener, 0)
	require.NoError(t, w.WaitFor(context.Background(), first, waitTimeout, "counting", streams.Name))
	incremental := readCatalog(t, e.db.Pool)

	stop := make(chan struct{})
	var appender sync.WaitGroup
	appender.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				e.appendEvents(t, 10, 3)
			}
		}
	})

	for _, name := range []string{streams.Name, "counting"} {
		var calls []int64
		var total int64
		err := r.Rebuild(context.Background(), name, func(done, all int64) {
			calls = append(calls, done)
			total = all
			if name == streams.Name && done > 0 && done < all {
				// Mid-rebuild, after Reset: another session still sees every
				// row of the old read model.
				require.Equal(t, incremental, readCatalogAsOf(t, e, first))
			}
		})
		require.NoError(t, err, name)
		require.GreaterOrEqual(t, total, first)
		require.Equal(t, total, calls[len(calls)-1], "progress ends at the total")
		require.IsNonDecreasing(t, calls)
	}
	close(stop)
	appender.Wait()

	head, err := e.store.HeadPosition(context.Background())
	require.NoError(t, err)
	require.NoError(t, w.WaitFor(context.Background(), head, waitTimeout, "counting", streams.Name))
	requireAppliedOnce(t, e.db, head)
	require.Equal(t, e.foldCatalog(t), readCatalog(t, e.db.Pool))
}

// readCatalogAsOf reads the catalog on its own connection, restricted to the
// streams that existed at position: the rows the old read model had. It
// gives up rather than waits on a lock, so a rebuild that blocked readers
// fails the test instead of hanging it.
func readCatalogAsOf(t *testing.T, e *env, position int64) map[string]catalogRow {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), e.db.URL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), "SET lock_timeout = '5s'")
	require.NoError(t, err)
	all := readCatalog(t, conn)
	for id, row := range all {
		if row.LastPosition > position {
			delete(all, id) // a stream the appender created after position
		}
	}
	return all
}

func TestRebuildUnknownProjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, err := projections.NewRunner(e.db.Pool, e.store, nil, discard(), fastOptions(), streams.New())
	require.NoError(t, err)
	err = r.Rebuild(context.Background(), "nope", nil)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
}

// A projection that keeps failing on one event stalls just before it, while
// the other projection catches up; once fixed it applies the rest, skipping
// nothing.
func TestFailingProjectionDoesNotBlockOthersNorSkip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	head := e.appendEvents(t, 100, 6)
	const poison = 37
	flaky := &counting{name: "flaky", poison: poison}
	flaky.broken.Store(true)
	reg := prometheus.NewRegistry()
	opts := fastOptions()
	opts.Registerer = reg
	r, err := projections.NewRunner(e.db.Pool, e.store, nil, discard(), opts, flaky, streams.New())
	require.NoError(t, err)
	run(t, r)

	w := projections.NewWaiter(e.db.Pool, nil, 5*time.Millisecond)
	require.NoError(t, w.WaitFor(context.Background(), head, waitTimeout, streams.Name))
	// Page halving gets every event before the poisonous one applied.
	require.NoError(t, w.WaitFor(context.Background(), poison-1, waitTimeout, "flaky"))
	err = w.WaitFor(context.Background(), poison, 50*time.Millisecond, "flaky")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))

	statuses, err := r.Status(context.Background())
	require.NoError(t, err)
	byName := map[string]projections.Status{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	require.Equal(t, int64(poison-1), byName["flaky"].Checkpoint)
	require.Equal(t, head-(poison-1), byName["flaky"].Lag)
	require.Equal(t, int64(0), byName[streams.Name].Lag)
	require.Positive(t, gauge(t, reg, "vault_projection_failures_total", "flaky"))
	require.Equal(t, float64(head-(poison-1)), gauge(t, reg, "vault_projection_lag_events", "flaky"))

	flaky.broken.Store(false)
	require.NoError(t, w.WaitFor(context.Background(), head, waitTimeout, "flaky"))
	requireAppliedOnce(t, e.db, head)
}

func gauge(t *testing.T, reg *prometheus.Registry, name, projection string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "projection" && l.GetValue() == projection {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{projection=%q} not found", name, projection)
	return 0
}

func TestWaiter(t *testing.T) {
	t.Parallel()
	// Alone, each WaitFor reads the checkpoints itself; shared, the waiter's
	// Run keeps one view for every WaitFor. Both must behave the same.
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "shared"}[shared], func(t *testing.T) {
			t.Parallel()
			testWaiter(t, shared)
		})
	}
}

func testWaiter(t *testing.T, shared bool) {
	e := newEnv(t)
	head := e.appendEvents(t, 30, 3)
	a := e.newProcess(t) // runs the projections
	b := e.newProcess(t) // only waits
	r, err := projections.NewRunner(a.pool, e.store, a.listener, discard(), fastOptions(), &counting{name: "counting"})
	require.NoError(t, err)
	waiter := projections.NewWaiter(b.pool, b.listener, time.Hour) // only a notification can wake it
	if shared {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- waiter.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}

	// Before any runner has run, nothing is caught up.
	err = waiter.WaitFor(context.Background(), head, 20*time.Millisecond, "counting")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	require.Contains(t, domain.ErrorMessage(err), "counting not started")

	run(t, r)
	tests := []struct {
		name     string
		position int64
		timeout  time.Duration
		names    []string
		code     string
	}{
		{"caught up in another process", head, waitTimeout, []string{"counting"}, ""},
		{"no position to wait for", 0, 0, []string{"counting"}, ""},
		{"every projection", head, waitTimeout, nil, ""},
		{"beyond the log", head + 1, 20 * time.Millisecond, []string{"counting"}, domain.EUNAVAILABLE},
		{"unknown projection", 1, 20 * time.Millisecond, []string{"counting", "nope"}, domain.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := waiter.WaitFor(context.Background(), tt.position, tt.timeout, tt.names...)
			require.Equal(t, tt.code, domain.ErrorCode(err), "%v", err)
		})
	}

	t.Run("woken by a checkpoint advanced elsewhere", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- waiter.WaitFor(context.Background(), head+5, waitTimeout, "counting") }()
		e.appendEvents(t, 5, 1)
		require.NoError(t, <-done)
	})

	t.Run("many concurrent waiters all wake", func(t *testing.T) {
		const waiters = 40
		done := make(chan error, waiters)
		for range waiters {
			go func() { done <- waiter.WaitFor(context.Background(), head+8, waitTimeout, "counting") }()
		}
		e.appendEvents(t, 3, 1)
		for range waiters {
			require.NoError(t, <-done)
		}
	})

	t.Run("context ends first", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := waiter.WaitFor(ctx, head+1000, waitTimeout, "counting")
		require.ErrorIs(t, err, context.Canceled)
	})
}
