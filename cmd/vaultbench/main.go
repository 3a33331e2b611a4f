// Command vaultbench measures the vault against baselines taken in the same
// run, because the machines it runs on are shared and noisy: a figure is only
// meaningful as a ratio to what plain PostgreSQL does at that moment.
//
//	vaultbench append   append throughput at 1, 8 and 32 appenders vs raw INSERTs
//	vaultbench latency  append-to-read-model latency at a steady rate vs raw INSERTs
//	vaultbench rebuild  projection rebuild speed vs one INSERT ... SELECT
//	vaultbench audit    filtered audit queries on a large audit log vs primary-key lookups
//	vaultbench history  history pages, diffs and as_of reads of long secret histories vs a short one
//	vaultbench http     secrets API throughput and latency vs GET /healthz, against a real vaultd
//	vaultbench files    1 GiB upload and download through vaultd on S3 vs raw S3, with vaultd's RSS
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	adminURL := fs.String("admin-url", envOr("VAULT_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL URL of a role that may CREATE DATABASE; each run uses a fresh database")
	duration := fs.Duration("duration", 5*time.Second, "how long each scenario runs (latency: 20s)")
	rate := fs.Float64("rate", 1000, "latency: events per second")
	events := fs.Int64("events", 1_000_000, "rebuild: events in the log")
	auditRows := fs.Int64("rows", 10_000_000, "audit: rows in the audit log")
	auditQueries := fs.Int("queries", 2000, "audit: timed queries per scenario")
	historyVersions := fs.String("versions", "100,1000,10000", "history: versions of each generated secret, the first is the baseline")
	historyReads := fs.Int("reads", 30, "history: at most this many timed reads per scenario and size")
	historyBudget := fs.Duration("budget", 3*time.Second, "history: time spent on the timed reads of one scenario and size (at least 3 reads)")
	fileBytes := fs.Int64("bytes", 1<<30, "files: size of the file")
	httpOnly := fs.String("only", "", "http: only these scenarios (comma-separated: create,rotate,get,reveal; the /healthz baseline always runs)")
	httpClients := fs.String("clients", "", "http: client counts (comma-separated; default 8,32)")
	httpLoad := fs.String("load", "go", "http: what sends the requests: go (vaultbench's own client) or wrk (on PATH; leaves vaultd the CPU the Go client takes)")
	httpBreakdown := fs.Bool("breakdown", false, "http: print each scenario's statements per request from pg_stat_statements (must be preloaded)")
	_ = fs.Parse(os.Args[2:])

	var err error
	switch os.Args[1] {
	case "append":
		err = benchAppend(ctx, logger, *adminURL, *duration)
	case "latency":
		err = benchLatency(ctx, logger, *adminURL, *rate, durationOr(fs, *duration, 20*time.Second))
	case "http":
		var opts httpOptions
		if opts, err = parseHTTPOptions(*httpOnly, *httpClients, *httpLoad, *httpBreakdown); err == nil {
			err = benchHTTP(ctx, logger, *adminURL, *duration, opts)
		}
	case "files":
		err = benchFiles(ctx, logger, *adminURL, *fileBytes)
	case "rebuild":
		err = benchRebuild(ctx, logger, *adminURL, *events)
	case "audit":
		err = benchAudit(ctx, logger, *adminURL, *auditRows, *auditQueries)
	case "history":
		var sizes []int
		if sizes, err = parseSizes(*historyVersions); err == nil {
			err = benchHistory(ctx, logger, *adminURL, sizes, *historyBudget, *historyReads)
		}
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vaultbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vaultbench append [-duration 5s] [-admin-url URL]")
	fmt.Fprintln(os.Stderr, "       vaultbench latency [-rate 1000] [-duration 20s] [-admin-url URL]")
	fmt.Fprintln(os.Stderr, "       vaultbench rebuild [-events 1000000] [-admin-url URL]")
	fmt.Fprintln(os.Stderr, "       vaultbench audit [-rows 10000000] [-queries 2000] [-admin-url URL]")
	fmt.Fprintln(os.Stderr, "       vaultbench history [-versions 100,1000,10000] [-reads 30] [-budget 3s] [-admin-url URL]")
	fmt.Fprintln(os.Stderr, "       vaultbench http [-duration 5s] [-only rotate,get] [-clients 8,32] [-load go|wrk] [-breakdown] [-admin-url URL]   (run from the repository root)")
	fmt.Fprintln(os.Stderr, "       vaultbench files [-bytes 1073741824] [-admin-url URL]   (run from the repository root)")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
