package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// statementBreakdown reads pg_stat_statements for the scratch database, so
// `vaultbench http -breakdown` can say which statements a scenario's
// requests cost (the statements/req column says only how many). It needs
// the extension preloaded (shared_preload_libraries = 'pg_stat_statements');
// without it the breakdown says so and the benchmark runs as usual.
type statementBreakdown struct {
	db   *scratchDB
	dbID uint32
	// rowsBefore is the scratch database's rows changed before the
	// scenario (pg_stat_user_tables, once settled).
	rowsBefore int64
}

func newStatementBreakdown(ctx context.Context, db *scratchDB) (*statementBreakdown, error) {
	if _, err := db.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return nil, fmt.Errorf("pg_stat_statements: %w", err)
	}
	var probe int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_statements LIMIT 1`).Scan(&probe); err != nil {
		return nil, fmt.Errorf("pg_stat_statements is not preloaded (shared_preload_libraries): %w", err)
	}
	b := &statementBreakdown{db: db}
	if err := db.pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&b.dbID); err != nil {
		return nil, err
	}
	return b, nil
}

// reset forgets what the scratch database's statements cost so far.
func (b *statementBreakdown) reset(ctx context.Context) error {
	rows, err := b.settledRowsChanged(ctx)
	if err != nil {
		return err
	}
	b.rowsBefore = rows
	_, err = b.db.pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1::oid, 0)`, b.dbID)
	return err
}

// settledRowsChanged is how many rows the scratch database's tables have
// had inserted, updated or deleted. Backends report these counters up to
// ten seconds late (PostgreSQL flushes table statistics at most once a
// second, and an idle connection's only after its idle interval), so it
// waits until two readings a second apart agree, for at most 15 s. What
// the read models and the relay still write after the scenario is part of
// its cost and is counted too.
func (b *statementBreakdown) settledRowsChanged(ctx context.Context) (int64, error) {
	read := func() (int64, error) {
		var n int64
		err := b.db.pool.QueryRow(ctx, `
			SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint
			FROM pg_stat_user_tables WHERE relname NOT LIKE 'bench_raw_%'`).Scan(&n)
		return n, err
	}
	last, err := read()
	if err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
		n, err := read()
		if err != nil {
			return 0, err
		}
		if n == last {
			break
		}
		last = n
	}
	return last, nil
}

// print writes the statements run on the scratch database since the last
// reset, most frequent first, as calls per request.
func (b *statementBreakdown) print(ctx context.Context, w io.Writer, title string, requests int64) error {
	rows, err := b.db.pool.Query(ctx, `
		SELECT calls, rows, mean_exec_time, query FROM pg_stat_statements
		WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%'
		ORDER BY calls DESC LIMIT 40`, b.dbID)
	if err != nil {
		return err
	}
	type row struct {
		calls, rows int64
		meanMS      float64
		query       string
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.calls, &x.rows, &x.meanMS, &x.query)
		return x, err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "-- %s: statements and rows per request, mean execution time (pg_stat_statements, %d requests)\n", title, requests)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var total, written float64
	for _, r := range got {
		callsPer := float64(r.calls) / float64(max(requests, 1))
		rowsPer := float64(r.rows) / float64(max(requests, 1))
		total += callsPer
		if writes(r.query) {
			written += rowsPer
		}
		fmt.Fprintf(tw, "%.3f\t%.3f\t%.3fms\t%s\t\n", callsPer, rowsPer, r.meanMS, oneLine(r.query, 100))
	}
	fmt.Fprintf(tw, "%.3f\t%.3f\t\t(statements above; rows they report changing)\t\n", total, written)
	if err := tw.Flush(); err != nil {
		return err
	}
	after, err := b.settledRowsChanged(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "rows inserted, updated or deleted per request (pg_stat_user_tables): %.2f (a single-row INSERT: 1)\n",
		float64(after-b.rowsBefore)/float64(max(requests, 1)))
	return err
}

func oneLine(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > n {
		q = q[:n] + "…"
	}
	return q
}

// writes tells whether a statement inserts, updates or deletes rows. Its
// pg_stat_statements rows are then the rows it reports changing, which for
// a data-modifying CTE are only its outer statement's: the exact count is
// the pg_stat_user_tables line under the breakdown.
func writes(query string) bool {
	return writeStatement.MatchString(query)
}

// writeStatement finds INSERT INTO, DELETE FROM, UPDATE … SET and MERGE
// INTO anywhere in a statement, not SELECT … FOR UPDATE.
var writeStatement = regexp.MustCompile(`(?i)\b(INSERT\s+INTO|DELETE\s+FROM|MERGE\s+INTO|UPDATE\s+\S+\s+SET)\b`)

// httpOptions narrow `vaultbench http` while working on one operation:
// which scenarios (the /healthz baseline always runs), at which client
// counts, and whether to print the statement breakdown.
type httpOptions struct {
	only      map[string]bool
	clients   []int
	breakdown bool
	load      loadGenerator
}

// loadGenerator is what sends the HTTP scenarios' requests.
type loadGenerator string

const (
	loadGo  loadGenerator = "go"  // vaultbench's own net/http client, in this process
	loadWrk loadGenerator = "wrk" // wrk, which must be on PATH
)

func parseHTTPOptions(only, clients, load string, breakdown bool) (httpOptions, error) {
	opts := httpOptions{breakdown: breakdown, load: loadGenerator(load)}
	switch opts.load {
	case loadGo:
	case loadWrk:
		if _, err := exec.LookPath("wrk"); err != nil {
			return httpOptions{}, fmt.Errorf("-load wrk: %w (Debian: apt-get install wrk)", err)
		}
	default:
		return httpOptions{}, fmt.Errorf("-load %q: want go or wrk", load)
	}
	for _, name := range strings.Split(only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			if opts.only == nil {
				opts.only = make(map[string]bool)
			}
			opts.only[name] = true
		}
	}
	if clients != "" {
		sizes, err := parseSizes(clients)
		if err != nil {
			return httpOptions{}, fmt.Errorf("-clients: %w", err)
		}
		opts.clients = sizes
	}
	return opts, nil
}

func (o httpOptions) clientCounts() []int {
	if len(o.clients) > 0 {
		return o.clients
	}
	return []int{8, 32}
}

// wants matches a scenario by the first word of its name ("get" for
// "get (masked)").
func (o httpOptions) wants(scenario string) bool {
	if o.only == nil {
		return true
	}
	first, _, _ := strings.Cut(scenario, " ")
	return o.only[first] || o.only[scenario]
}
