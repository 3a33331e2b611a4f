package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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
	_, err := b.db.pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1::oid, 0)`, b.dbID)
	return err
}

// print writes the statements run on the scratch database since the last
// reset, most frequent first, as calls per request.
func (b *statementBreakdown) print(ctx context.Context, w io.Writer, title string, requests int64) error {
	rows, err := b.db.pool.Query(ctx, `
		SELECT calls, mean_exec_time, query FROM pg_stat_statements
		WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%'
		ORDER BY calls DESC LIMIT 25`, b.dbID)
	if err != nil {
		return err
	}
	type row struct {
		calls  int64
		meanMS float64
		query  string
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.calls, &x.meanMS, &x.query)
		return x, err
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "-- %s: statements per request and mean execution time (pg_stat_statements, %d requests)\t\t\t\n", title, requests)
	var total float64
	for _, r := range got {
		per := float64(r.calls) / float64(max(requests, 1))
		total += per
		fmt.Fprintf(tw, "%.3f\t%.3fms\t%s\t\n", per, r.meanMS, oneLine(r.query, 100))
	}
	fmt.Fprintf(tw, "%.3f\t\t(total of the rows above)\t\n", total)
	return tw.Flush()
}

func oneLine(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > n {
		q = q[:n] + "…"
	}
	return q
}

// httpOptions narrow `vaultbench http` while working on one operation:
// which scenarios (the /healthz baseline always runs), at which client
// counts, and whether to print the statement breakdown.
type httpOptions struct {
	only      map[string]bool
	clients   []int
	breakdown bool
}

func parseHTTPOptions(only, clients string, breakdown bool) (httpOptions, error) {
	opts := httpOptions{breakdown: breakdown}
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
