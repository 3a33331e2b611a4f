package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/securevault/vault/domain"
)

// eventShapedPayload is about the size of a real vault event.
var eventShapedPayload = json.RawMessage(`{"secret_id":"6f1c3f9e-4a8d-4c55-9b0e-0a1d2c3b4a59","name":"prod/db/password","version":3,"tags":["db","prod"]}`)

type result struct {
	ops       int64
	elapsed   time.Duration
	latencies []time.Duration
	// quantiles, when set, are the load generator's own (wrk reports
	// quantiles, not every latency).
	quantiles map[float64]time.Duration
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) percentile(p float64) time.Duration {
	if r.quantiles != nil {
		return r.quantiles[p]
	}
	if len(r.latencies) == 0 {
		return 0
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r.latencies[int(float64(len(r.latencies)-1)*p)]
}

// run drives op from `clients` goroutines for d and records every latency.
func run(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, client int, i int) error) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ops atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := op(ctx, c, i); err != nil {
					if ctx.Err() != nil {
						break
					}
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				local = append(local, time.Since(t0))
				ops.Add(1)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{ops: ops.Load(), elapsed: time.Since(start), latencies: all}, firstErr
}

const rawTable = `CREATE TABLE bench_raw_events (
    position bigserial PRIMARY KEY, stream_id text NOT NULL, version bigint NOT NULL, event_id uuid NOT NULL UNIQUE,
    type text NOT NULL, schema_version integer NOT NULL, data json NOT NULL, metadata json NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(), prev_hash bytea NOT NULL, hash bytea NOT NULL,
    UNIQUE (stream_id, version))`

func benchAppend(ctx context.Context, logger *slog.Logger, adminURL string, d time.Duration) error {
	db, err := newScratchDB(ctx, logger, adminURL, 40)
	if err != nil {
		return err
	}
	defer db.drop(ctx)
	if _, err := db.pool.Exec(ctx, rawTable); err != nil {
		return fmt.Errorf("create baseline table: %w", err)
	}
	store, err := newBenchStore(db, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	meta, _ := json.Marshal(domain.Metadata{Actor: "user-1", ClientIP: "127.0.0.1", UserAgent: "vaultbench", RequestID: "r"})
	hash := make([]byte, 32)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "appenders\traw INSERT/s\tappend/s\tratio\tappend p50\tappend p99\t")
	for _, clients := range []int{1, 8, 32} {
		raw, err := run(ctx, clients, d, func(ctx context.Context, c, i int) error {
			_, err := db.pool.Exec(ctx, `INSERT INTO bench_raw_events (stream_id, version, event_id, type, schema_version, data, metadata, prev_hash, hash)
				VALUES ($1, $2, $3, 'SecretRotated', 1, $4, $5, $6, $7)`,
				fmt.Sprintf("raw-%d-%d", clients, c), i+1, uuid.New(), string(eventShapedPayload), string(meta), hash, hash)
			return err
		})
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		app, err := run(ctx, clients, d, func(ctx context.Context, c, i int) error {
			_, err := store.Append(ctx, fmt.Sprintf("bench-%d-%d", clients, c), domain.ExpectVersion(int64(i)), domain.NewEvent{
				ID: uuid.NewString(), Type: "SecretRotated", SchemaVersion: 1, Data: eventShapedPayload,
				Metadata: domain.Metadata{Actor: "user-1", ClientIP: "127.0.0.1", UserAgent: "vaultbench", RequestID: "r"},
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2fx\t%s\t%s\t\n", clients, raw.rate(), app.rate(), app.rate()/raw.rate(),
			app.percentile(0.5).Round(10*time.Microsecond), app.percentile(0.99).Round(10*time.Microsecond))
	}
	return tw.Flush()
}
