package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is one test's database with the real event store on it.
type env struct {
	db    *pgtest.Database
	store *eventstore.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discard(), eventstore.Options{})
	t.Cleanup(store.Close)
	// The counting projection's table; each test has its own database.
	_, err := db.Pool.Exec(context.Background(), `CREATE TABLE applications (
		position bigint PRIMARY KEY, event_id uuid NOT NULL, applied integer NOT NULL)`)
	require.NoError(t, err)
	return &env{db: db, store: store}
}

// process is what one vaultd process would hold: its own pool and its own
// notification listener on the shared database.
type process struct {
	pool     *pgxpool.Pool
	listener *pgnotify.Listener
}

func (e *env) newProcess(t *testing.T) *process {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), e.db.URL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	l := pgnotify.NewListener(e.db.URL, discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &process{pool: pool, listener: l}
}

// run starts r until the test ends and checks that Run returns cleanly.
func run(t *testing.T, r *projections.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func fastOptions() projections.Options {
	return projections.Options{
		PageSize: 16, RebuildPageSize: 64, PollInterval: 200 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
	}
}

func newEvent(i int) domain.NewEvent {
	data, _ := json.Marshal(map[string]int{"n": i})
	return domain.NewEvent{
		ID: uuid.NewString(), Type: "Touched", SchemaVersion: 1, Data: data,
		Metadata: domain.Metadata{Actor: domain.SystemActor, RequestID: fmt.Sprintf("req-%d", i)},
	}
}

// appendEvents appends n events spread over the given number of streams and
// returns the last position written.
func (e *env) appendEvents(t *testing.T, n, streams int) int64 {
	t.Helper()
	ids := make([]string, streams)
	for i := range ids {
		ids[i] = domain.StreamID("thing", uuid.NewString())
	}
	var last int64
	for i := range n {
		res, err := e.store.Append(context.Background(), ids[i%streams], domain.ExpectAny, newEvent(i))
		require.NoError(t, err)
		last = res.LastPosition
	}
	return last
}

// counting records how many times each event was applied. It fails on the
// event at poison while broken is set.
type counting struct {
	name    string
	poison  int64
	broken  atomic.Bool
	mu      sync.Mutex
	batches int
}

func (c *counting) Name() string     { return c.name }
func (c *counting) Tables() []string { return []string{"applications"} }

func (c *counting) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	c.mu.Lock()
	c.batches++
	c.mu.Unlock()
	positions := make([]int64, len(events))
	ids := make([]string, len(events))
	for i, e := range events {
		if c.broken.Load() && e.Position == c.poison {
			return fmt.Errorf("event %d is poisonous", e.Position)
		}
		positions[i], ids[i] = e.Position, e.ID
	}
	_, err := tx.Exec(ctx, `INSERT INTO applications (position, event_id, applied)
		SELECT p, id, 1 FROM unnest($1::bigint[], $2::uuid[]) AS u(p, id)
		ON CONFLICT (position) DO UPDATE SET applied = applications.applied + 1`, positions, ids)
	return err
}

func (c *counting) Reset(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "DELETE FROM applications")
	return err
}

// requireAppliedOnce checks that positions 1..head were each applied exactly
// once and nothing else was.
func requireAppliedOnce(t *testing.T, db *pgtest.Database, head int64) {
	t.Helper()
	var rows, minPos, maxPos, maxApplied int64
	err := db.Pool.QueryRow(context.Background(),
		`SELECT count(*), COALESCE(min(position), 0), COALESCE(max(position), 0), COALESCE(max(applied), 0) FROM applications`).
		Scan(&rows, &minPos, &maxPos, &maxApplied)
	require.NoError(t, err)
	require.Equal(t, head, rows, "every event applied")
	require.Equal(t, int64(1), minPos)
	require.Equal(t, head, maxPos)
	require.Equal(t, int64(1), maxApplied, "no event applied twice")
}

type catalogRow struct {
	Aggregate             string
	Version, LastPosition int64
	FirstAt, LastAt       time.Time
}

func readCatalog(t *testing.T, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) map[string]catalogRow {
	t.Helper()
	rows, err := db.Query(context.Background(),
		`SELECT stream_id, aggregate, version, last_position, first_recorded_at, last_recorded_at FROM stream_catalog`)
	require.NoError(t, err)
	out := map[string]catalogRow{}
	for rows.Next() {
		var id string
		var r catalogRow
		require.NoError(t, rows.Scan(&id, &r.Aggregate, &r.Version, &r.LastPosition, &r.FirstAt, &r.LastAt))
		r.FirstAt, r.LastAt = r.FirstAt.UTC(), r.LastAt.UTC()
		out[id] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// foldCatalog computes the catalog straight from the log, one event at a
// time: the reference the projection must match.
func (e *env) foldCatalog(t *testing.T) map[string]catalogRow {
	t.Helper()
	out := map[string]catalogRow{}
	var after int64
	for {
		page, err := e.store.ReadAll(context.Background(), after, 1000)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		for _, ev := range page {
			r, ok := out[ev.StreamID]
			if !ok {
				r = catalogRow{Aggregate: ev.Aggregate(), FirstAt: ev.RecordedAt.UTC()}
			}
			r.Version, r.LastPosition, r.LastAt = ev.Version, ev.Position, ev.RecordedAt.UTC()
			out[ev.StreamID] = r
			after = ev.Position
		}
	}
}
