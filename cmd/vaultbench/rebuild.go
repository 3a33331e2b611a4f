package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/loggen"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/streams"
)

// catalogBaseline computes the same catalog as the streams projection with
// one set-based statement: the floor for any rebuild, since it never leaves
// the server. recorded_at grows with position, so min/max give the first
// and last times and max(version) the version of the last event.
const catalogBaseline = `
INSERT INTO bench_stream_catalog (stream_id, aggregate, version, last_position, first_recorded_at, last_recorded_at)
SELECT stream_id,
       CASE WHEN strpos(stream_id, '-') > 1 THEN split_part(stream_id, '-', 1) ELSE stream_id END,
       max(version), max(position), min(recorded_at), max(recorded_at)
FROM events
GROUP BY stream_id`

func benchRebuild(ctx context.Context, logger *slog.Logger, adminURL string, n int64) error {
	if n < 1 {
		return domain.Errorf(domain.EINVALID, "-events must be positive, not %d", n)
	}
	db, err := newScratchDB(ctx, logger, adminURL, 8)
	if err != nil {
		return err
	}
	defer db.drop(ctx)
	streamCount := max(1, (n+9)/10)
	n = streamCount * 10 // the generator writes whole streams of ten

	meta := domain.Metadata{
		Actor: "6f1c3f9e-4a8d-4c55-9b0e-0a1d2c3b4a59", ClientIP: "10.1.2.3", UserAgent: "vaultctl/1.0",
		RequestID: "01JD3M6Y2W9Q8Z7X5V4T3S2R1P", CorrelationID: "01JD3M6Y2W9Q8Z7X5V4T3S2R1P", CausationID: "01JD3M6Y2W9Q8Z7X5V4T3S2R1P",
	}
	store, err := newBenchStore(db, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	// Through the real append path, so every event has a keyed link: the
	// rebuild checks each one, as vaultd's projections do.
	fmt.Fprintf(os.Stderr, "appending %d events over %d streams...\n", n, streamCount)
	started := time.Now()
	if err := loggen.Generate(ctx, store, n, "secret", "SecretRotated", eventShapedPayload, meta); err != nil {
		return fmt.Errorf("generate the log: %w", err)
	}
	// Without it the rebuild's first pages would set hint bits on every row
	// (writes during a read) and plan on empty statistics.
	if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE events"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	generated := time.Since(started)

	runner, err := projections.NewRunner(db.pool, store, nil, logger, projections.Options{}, streams.New())
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "rebuilding the streams projection...")
	started = time.Now()
	if err := runner.Rebuild(ctx, streams.Name, nil); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	rebuilt := time.Since(started)

	// The baseline runs second, so if either benefits from a warmer cache it
	// is the baseline, and the ratio errs against the rebuild.
	if _, err := db.pool.Exec(ctx, "CREATE TABLE bench_stream_catalog (LIKE stream_catalog INCLUDING ALL)"); err != nil {
		return fmt.Errorf("create baseline table: %w", err)
	}
	started = time.Now()
	if _, err := db.pool.Exec(ctx, catalogBaseline); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	baseline := time.Since(started)

	// A fast rebuild is worthless if it is wrong: the projection must equal
	// the set-based catalog row for row.
	var rows, differing int64
	err = db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM stream_catalog),
		(SELECT count(*) FROM ((TABLE stream_catalog EXCEPT TABLE bench_stream_catalog)
		                 UNION ALL (TABLE bench_stream_catalog EXCEPT TABLE stream_catalog)) AS d)`).Scan(&rows, &differing)
	if err != nil {
		return fmt.Errorf("compare catalogs: %w", err)
	}
	if rows != streamCount || differing != 0 {
		return domain.Errorf(domain.EINTERNAL, "the rebuilt catalog has %d rows (want %d) and %d rows differ from the baseline", rows, streamCount, differing)
	}

	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("%d events over %d streams (generated in %s), catalog checked equal to the baseline's\n",
		n, streamCount, generated.Round(time.Millisecond))
	fmt.Printf("%-34s %10s %12s\n", "scenario", "time", "events/s")
	fmt.Printf("%-34s %10s %12.0f\n", "INSERT ... SELECT ... GROUP BY", baseline.Round(time.Millisecond), rate(baseline))
	fmt.Printf("%-34s %10s %12.0f\n", "Runner.Rebuild(streams)", rebuilt.Round(time.Millisecond), rate(rebuilt))
	verdict := "met"
	switch {
	case n < 1_000_000:
		verdict = "not tested (it needs -events 1000000 or more)"
	case rate(rebuilt) < 50_000:
		verdict = "NOT met"
	}
	fmt.Printf("goal (>= 50,000 events/s over >= 1,000,000 events): %s; rebuild runs at %.2fx the set-based baseline\n",
		verdict, rate(rebuilt)/rate(baseline))
	return nil
}
