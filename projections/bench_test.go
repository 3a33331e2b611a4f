package projections_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/loggen"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/streams"
)

// BenchmarkRebuild rebuilds the streams catalog from a log of
// VAULT_BENCH_REBUILD_EVENTS events (default 1,000,000) over a tenth as many
// streams, and reports events/s. The log is appended through the store, so
// each event has the keyed link the rebuild checks.
func BenchmarkRebuild(b *testing.B) {
	n := int64(1_000_000)
	if v := os.Getenv("VAULT_BENCH_REBUILD_EVENTS"); v != "" {
		parsed, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err)
		n = parsed
	}
	n = max(1, (n+9)/10) * 10 // whole streams of ten
	ctx := context.Background()
	db := pgtest.New(b)
	store := eventstore.New(db.AppPool, db.ChainKeys(b), discard(), eventstore.Options{})
	b.Cleanup(store.Close)
	started := time.Now()
	require.NoError(b, loggen.Generate(ctx, store, n, "thing", "Touched", json.RawMessage(`{"n":1}`),
		domain.Metadata{Actor: "system", RequestID: "bench"}))
	_, err := db.Pool.Exec(ctx, `VACUUM ANALYZE events`)
	require.NoError(b, err)
	b.Logf("generated %d events in %s", n, time.Since(started).Round(time.Millisecond))

	r, err := projections.NewRunner(db.Pool, store, nil, discard(), projections.Options{}, streams.New())
	require.NoError(b, err)

	b.ResetTimer()
	for b.Loop() {
		require.NoError(b, r.Rebuild(ctx, streams.Name, nil))
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.StopTimer()

	var rows int64
	require.NoError(b, db.Pool.QueryRow(ctx, "SELECT count(*) FROM stream_catalog").Scan(&rows))
	require.Equal(b, n/10, rows)
}
