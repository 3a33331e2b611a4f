package pgtrace_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgtrace"
)

// TestCounterCountsEveryStatement: a query, an exec, a transaction (BEGIN,
// a statement, COMMIT), a batch of three and a COPY are each counted as
// the statements PostgreSQL receives, and the count is the metric.
func TestCounterCountsEveryStatement(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	counter := pgtrace.New(reg)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS t (n int)`); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		run  func(t *testing.T)
		want int64
	}{
		{"query row", func(t *testing.T) {
			var n int
			if err := pool.QueryRow(ctx, `SELECT 1`).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"exec", func(t *testing.T) {
			if _, err := pool.Exec(ctx, `SELECT 1`); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"transaction", func(t *testing.T) {
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT 1`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}, 3},
		{"batch of three", func(t *testing.T) {
			b := &pgx.Batch{}
			for range 3 {
				b.Queue(`SELECT 1`)
			}
			if err := pool.SendBatch(ctx, b).Close(); err != nil {
				t.Fatal(err)
			}
		}, 3},
		{"copy", func(t *testing.T) {
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS c (n int)`); err != nil {
				t.Fatal(err)
			}
			before := counter.Count()
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"c"}, []string{"n"}, pgx.CopyFromRows([][]any{{1}, {2}})); err != nil {
				t.Fatal(err)
			}
			if got := counter.Count() - before; got != 1 {
				t.Fatalf("copy counted %d statements, want 1", got)
			}
		}, 2},
	}
	for _, tc := range cases {
		before := counter.Count()
		tc.run(t)
		if got := counter.Count() - before; got != tc.want {
			t.Errorf("%s: counted %d statements, want %d", tc.name, got, tc.want)
		}
	}
	if got := gathered(t, reg); got != float64(counter.Count()) {
		t.Errorf("%s = %v, want %d", pgtrace.MetricName, got, counter.Count())
	}
}

func gathered(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == pgtrace.MetricName {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s is not registered", pgtrace.MetricName)
	return 0
}
