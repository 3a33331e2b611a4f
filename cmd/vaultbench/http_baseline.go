package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/pgtrace"
)

// rawBaselines are what plain PostgreSQL does with rows of the vault's
// shapes, on the same database the vaultd under test uses.
type rawBaselines struct {
	db   *scratchDB
	ids  []uuid.UUID
	meta string
	hash []byte
}

func newRawBaselines(ctx context.Context, db *scratchDB) (*rawBaselines, error) {
	// A copy of the secrets read model's table (columns, keys and indexes),
	// so the SELECT reads a row of the shape a masked get reads.
	if _, err := db.pool.Exec(ctx, `CREATE TABLE bench_raw_secrets (LIKE secrets INCLUDING ALL)`); err != nil {
		return nil, fmt.Errorf("create baseline table: %w", err)
	}
	if _, err := db.pool.Exec(ctx, rawTable); err != nil {
		return nil, fmt.Errorf("create baseline table: %w", err)
	}
	meta, _ := json.Marshal(domain.Metadata{Actor: "user-1", ClientIP: "127.0.0.1", UserAgent: "vaultbench", RequestID: "r"})
	return &rawBaselines{db: db, meta: string(meta), hash: make([]byte, 32)}, nil
}

// fill copies the secrets vaultd holds into the baseline table.
func (r *rawBaselines) fill(ctx context.Context) error {
	if _, err := r.db.pool.Exec(ctx, `INSERT INTO bench_raw_secrets SELECT * FROM secrets ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("fill baseline table: %w", err)
	}
	rows, err := r.db.pool.Query(ctx, `SELECT id FROM bench_raw_secrets`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("no secrets to read in the baseline")
	}
	r.ids = ids
	return nil
}

func (r *rawBaselines) selectByKey(ctx context.Context, c, i int) error {
	var (
		id                   uuid.UUID
		name, desc, state    string
		tags                 []string
		current, count       int64
		createdAt, updatedAt time.Time
		createdBy, updatedBy string
	)
	return r.db.pool.QueryRow(ctx, `SELECT id, name, description, tags, current_version, version_count, state, created_at, created_by, updated_at, updated_by
		FROM bench_raw_secrets WHERE id = $1`, r.ids[(c*7+i)%len(r.ids)]).
		Scan(&id, &name, &desc, &tags, &current, &count, &state, &createdAt, &createdBy, &updatedAt, &updatedBy)
}

func (r *rawBaselines) insert(ctx context.Context, c, i int) error {
	_, err := r.db.pool.Exec(ctx, `INSERT INTO bench_raw_events (stream_id, version, event_id, type, schema_version, data, metadata, prev_hash, hash)
		VALUES ($1, $2, $3, 'SecretRotated', 1, $4, $5, $6, $7)`,
		"raw-"+uuid.NewString(), i+1, uuid.New(), string(eventShapedPayload), r.meta, r.hash, r.hash)
	return err
}

// statements reads vaultd's statement counter from /metrics.
func (c *apiClient) statements(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), pgtrace.MetricName+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("vaultd's /metrics has no %s", pgtrace.MetricName)
}

// settledStatements reads the counter once the background work a scenario
// left behind (projections, relay) has drained: when it stops moving for
// a moment, or after a few seconds of idle pipelines' polling.
func (c *apiClient) settledStatements(ctx context.Context) (int64, error) {
	last, err := c.statements(ctx)
	if err != nil {
		return 0, err
	}
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		n, err := c.statements(ctx)
		if err != nil {
			return 0, err
		}
		if n == last {
			return n, nil
		}
		last = n
	}
	return last, nil
}
