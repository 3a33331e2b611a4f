package projections_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/streams"
)

// BenchmarkRebuild rebuilds the streams catalog from a log of
// VAULT_BENCH_REBUILD_EVENTS events (default 1,000,000) over a tenth as many
// streams, and reports events/s. The log is generated inside PostgreSQL as
// the superuser: a rebuild never checks the hash chain, so the rows carry
// placeholder hashes.
func BenchmarkRebuild(b *testing.B) {
	n := int64(1_000_000)
	if v := os.Getenv("VAULT_BENCH_REBUILD_EVENTS"); v != "" {
		parsed, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err)
		n = parsed
	}
	ctx := context.Background()
	db := pgtest.New(b)
	su := db.Superuser(b)
	started := time.Now()
	_, err := su.Exec(ctx, `
		INSERT INTO events (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
		SELECT g, 'thing-' || (g % $2), (g - 1) / $2 + 1, md5(g::text)::uuid, 'Touched', 1,
		       json_build_object('n', g), '{"actor":"system","request_id":"bench"}'::json,
		       now() + g * interval '1 microsecond', '\x00'::bytea, '\x00'::bytea
		FROM generate_series(1, $1::bigint) AS g`, n, max(1, n/10))
	require.NoError(b, err)
	_, err = su.Exec(ctx, `UPDATE event_chain_head SET position = $1`, n)
	require.NoError(b, err)
	_, err = su.Exec(ctx, `VACUUM ANALYZE events`)
	require.NoError(b, err)
	b.Logf("generated %d events in %s", n, time.Since(started).Round(time.Millisecond))

	store := eventstore.New(db.AppPool, db.ChainKeys(b), discard(), eventstore.Options{})
	b.Cleanup(store.Close)
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
	require.Equal(b, max(1, n/10), rows)
}
