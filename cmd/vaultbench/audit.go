package main

import (
	"context"
	"crypto/md5" //nolint:gosec // G501: see benchUserID, an identifier, not a digest that protects anything
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/audit"
)

// Shape of the generated audit log.
const (
	auditBenchUsers = 1000
	auditBenchDays  = 30
	// auditBenchChunk is how many rows one INSERT ... SELECT writes, so the
	// generator reports progress and no single statement runs for minutes.
	auditBenchChunk = 1_000_000
	// auditBenchPage is what the API asks the reader for by default: a page
	// of 100 and one row more to know whether a next page exists.
	auditBenchPage = 101
)

// generateAudit writes rows lo..hi of the audit log inside PostgreSQL.
// Times grow with position over 30 days, as the projection's rows do. Users
// follow a skewed distribution (power of a uniform draw: user 0 has about 1%
// of all rows, the median user a few hundred per day), actions and outcomes
// a plausible mix: mostly reads and reveals, about 5% denied, logins that
// sometimes fail. $3 is the start time, $4 the total row count.
const generateAudit = `
INSERT INTO audit_log (position, event_id, "timestamp", user_id, username, action, resource_type,
                       resource_id, outcome, ip, user_agent, request_id, event_type)
SELECT g, md5('event' || g)::uuid,
       $3::timestamptz + (g::float8 / $4::float8) * interval '30 days',
       md5('user' || u)::uuid::text, 'user' || u,
       CASE WHEN r < 0.45 THEN 'secret.reveal' WHEN r < 0.65 THEN 'secret.read' WHEN r < 0.75 THEN 'secret.add_version'
            WHEN r < 0.80 THEN 'secret.create' WHEN r < 0.90 THEN 'auth.login' WHEN r < 0.95 THEN 'session.refresh'
            ELSE 'user.update' END,
       CASE WHEN r < 0.80 THEN 'secrets' WHEN r < 0.90 THEN 'users' WHEN r < 0.95 THEN 'sessions' ELSE 'users' END,
       md5('resource' || floor(random() * 20000)::int)::uuid::text,
       CASE WHEN r2 < 0.05 THEN 'denied' WHEN r BETWEEN 0.80 AND 0.90 AND r2 < 0.20 THEN 'failed' ELSE 'allowed' END,
       ('10.' || (u % 256) || '.' || (u / 256) || '.' || floor(random() * 256)::int)::inet,
       CASE WHEN r2 < 0.5 THEN 'vaultctl/1.0' ELSE 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' END,
       md5('request' || g),
       CASE WHEN r < 0.45 THEN 'SecretRevealed' WHEN r < 0.65 THEN 'SecretRead' WHEN r < 0.75 THEN 'SecretVersionAdded'
            WHEN r < 0.80 THEN 'SecretCreated' WHEN r < 0.90 THEN 'LoginSucceeded' WHEN r < 0.95 THEN 'SessionRefreshed'
            ELSE 'UserUpdated' END
FROM (SELECT g, floor(1000 * power(random(), 1.5))::int AS u, random() AS r, random() AS r2
      FROM generate_series($1::bigint, $2::bigint) AS g) AS s`

// benchUserID is md5('user' || k)::uuid as PostgreSQL prints it.
func benchUserID(k int) string {
	sum := md5.Sum(fmt.Appendf(nil, "user%d", k)) //nolint:gosec // G401: mirrors the seed SQL's md5()::uuid to name bench rows; no security use
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func benchAudit(ctx context.Context, logger *slog.Logger, adminURL string, rows int64, queries int) error {
	if rows < 1 {
		return domain.Errorf(domain.EINVALID, "-rows must be positive, not %d", rows)
	}
	if queries < 10 {
		return domain.Errorf(domain.EINVALID, "-queries must be at least 10, not %d", queries)
	}
	db, err := newScratchDB(ctx, logger, adminURL, 4)
	if err != nil {
		return err
	}
	defer db.drop(ctx)
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -auditBenchDays)

	// Loading without the secondary indexes and building them afterwards is
	// several times faster than maintaining them row by row; the indexes
	// rebuilt are exactly the migration's, read back from the catalog.
	var indexDefs []string
	err = func() error {
		r, err := db.pool.Query(ctx, `SELECT indexdef FROM pg_indexes
			WHERE tablename = 'audit_log' AND indexname <> 'audit_log_pkey' ORDER BY indexname`)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			var def string
			if err := r.Scan(&def); err != nil {
				return err
			}
			indexDefs = append(indexDefs, def)
		}
		return r.Err()
	}()
	if err != nil {
		return fmt.Errorf("read the audit indexes: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `DO $$ DECLARE i text; BEGIN
		FOR i IN SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log' AND indexname <> 'audit_log_pkey' LOOP
			EXECUTE 'DROP INDEX ' || quote_ident(i);
		END LOOP; END $$`); err != nil {
		return fmt.Errorf("drop the audit indexes: %w", err)
	}

	began := time.Now()
	for lo := int64(1); lo <= rows; lo += auditBenchChunk {
		hi := min(rows, lo+auditBenchChunk-1)
		fmt.Fprintf(os.Stderr, "generating audit rows %d..%d of %d (%s)\n", lo, hi, rows, time.Since(began).Round(time.Second))
		if _, err := db.pool.Exec(ctx, generateAudit, lo, hi, start, rows); err != nil {
			return fmt.Errorf("generate audit rows: %w", err)
		}
	}
	generated := time.Since(began)
	began = time.Now()
	for _, def := range indexDefs {
		fmt.Fprintf(os.Stderr, "building %s\n", def)
		if _, err := db.pool.Exec(ctx, def); err != nil {
			return fmt.Errorf("build index: %w", err)
		}
	}
	if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE audit_log"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	indexed := time.Since(began)
	var size string
	if err := db.pool.QueryRow(ctx, "SELECT pg_size_pretty(pg_total_relation_size('audit_log'))").Scan(&size); err != nil {
		return err
	}

	reader := audit.NewReader(db.pool)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42)) //nolint:gosec // G404,G115: picks benchmark query filters; no security use
	userDay := func(outcome string) domain.AuditFilter {
		since := start.AddDate(0, 0, rng.IntN(auditBenchDays))
		return domain.AuditFilter{
			UserID: benchUserID(rng.IntN(auditBenchUsers)), Outcome: outcome,
			Since: since, Until: since.Add(24 * time.Hour), Limit: auditBenchPage,
		}
	}
	type scenario struct {
		name string
		run  func() (int, error)
	}
	scenarios := []scenario{
		{"primary-key lookup (baseline)", func() (int, error) {
			_, err := reader.Get(ctx, 1+rng.Int64N(rows))
			return 1, err
		}},
		{"one user, one day, first page", func() (int, error) {
			got, err := reader.List(ctx, userDay(""))
			return len(got), err
		}},
		{"one user, one day, denied only", func() (int, error) {
			got, err := reader.List(ctx, userDay(domain.AuditDenied))
			return len(got), err
		}},
		{"one user, one day, second page", func() (int, error) {
			f := userDay("")
			first, err := reader.List(ctx, f)
			if err != nil || len(first) < auditBenchPage {
				return len(first), err
			}
			last := first[len(first)-2]
			f.Before = &domain.AuditCursor{Timestamp: last.Timestamp, Position: last.Position}
			got, err := reader.List(ctx, f)
			return len(got), err
		}},
	}

	fmt.Printf("audit_log: %d rows (%s with indexes), %d users, %d days; generated in %s, indexed and analyzed in %s\n",
		rows, size, auditBenchUsers, auditBenchDays, generated.Round(time.Second), indexed.Round(time.Second))
	fmt.Printf("%d queries per scenario after 100 warm-up queries, one client, through projections/audit.Reader\n", queries)
	fmt.Printf("%-34s %10s %10s %10s %10s\n", "scenario", "p50", "p99", "max", "rows/query")
	var userDayP99 time.Duration
	for _, sc := range scenarios {
		for range 100 {
			if _, err := sc.run(); err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
		}
		lat := make([]time.Duration, 0, queries)
		total := 0
		for range queries {
			t0 := time.Now()
			n, err := sc.run()
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			lat = append(lat, time.Since(t0))
			total += n
		}
		slices.Sort(lat)
		p99 := auditPct(lat, 0.99)
		if sc.name == scenarios[1].name {
			userDayP99 = p99
		}
		fmt.Printf("%-34s %10s %10s %10s %10.1f\n", sc.name, auditPct(lat, 0.50).Round(time.Microsecond),
			p99.Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), float64(total)/float64(queries))
	}
	verdict := "met"
	switch {
	case rows < 10_000_000:
		verdict = "not tested (it needs -rows 10000000)"
	case userDayP99 >= 50*time.Millisecond:
		verdict = "NOT met"
	}
	fmt.Printf("goal (one user over one day, p99 < 50ms on 10,000,000 rows): %s (p99 %s)\n", verdict, userDayP99.Round(time.Microsecond))
	return nil
}

// auditPct is the p-th percentile of sorted durations (nearest rank below).
func auditPct(sorted []time.Duration, p float64) time.Duration {
	return sorted[int(float64(len(sorted)-1)*p)]
}
