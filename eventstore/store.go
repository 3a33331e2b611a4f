// Package eventstore is the vault's source of truth: an append-only,
// hash-chained log of events in PostgreSQL.
//
// Appends go through one group-commit writer per process. The writer takes
// every append waiting at that moment, locks the chain-head row, checks each
// append's expected version, and writes the whole batch in one transaction.
// The head-row lock is held to commit, so across every process positions are
// assigned in commit order without gaps: a reader that pages through
// position > N can never miss an event that commits later with a smaller
// position. The same total order is what the hash chain needs.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

// NotifyChannel is notified, with the last position as payload, by every
// append transaction.
const NotifyChannel = "vault_events"

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxBatch bounds how many waiting appends one transaction takes.
	MaxBatch int
	// Upcasters rewrite old payloads on read, keyed by event type. Stored
	// events are never rewritten.
	Upcasters map[string]Upcaster
	// Registerer receives the store's metrics when not nil.
	Registerer prometheus.Registerer
	// Now is the clock; tests may pin it.
	Now func() time.Time
}

// Upcaster turns a payload of schemaVersion into the current shape and
// returns the new schema version. It is called repeatedly until the version
// stops changing, so each upcaster only needs to know one step.
type Upcaster func(schemaVersion int, data json.RawMessage) (int, json.RawMessage, error)

// Store appends to and reads from the event log.
type Store struct {
	pool    *pgxpool.Pool
	queries *esdb.Queries
	logger  *slog.Logger
	opts    Options
	metrics *metrics

	// cache is the writer's knowledge of the log as of its own last commit;
	// only the writer goroutine touches it.
	cache writerCache

	requests chan *appendRequest
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

type appendRequest struct {
	ctx     context.Context
	appends []preparedAppend
	result  chan appendOutcome
}

// preparedAppend is a validated StreamAppend with everything that does not
// depend on the log's state already computed, in the caller's goroutine,
// so the single writer only does what must be serialised.
type preparedAppend struct {
	streamID string
	expected domain.ExpectedVersion
	events   []preparedEvent
}

type preparedEvent struct {
	id            uuid.UUID
	eventType     string
	schemaVersion int32
	data          []byte
	metadata      []byte
}

type appendOutcome struct {
	result domain.AppendResult
	err    error
}

// New returns a store and starts its writer; Close stops it.
func New(pool *pgxpool.Pool, logger *slog.Logger, opts Options) *Store {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	s := &Store{
		pool:     pool,
		queries:  esdb.New(),
		logger:   logger,
		opts:     opts,
		metrics:  newMetrics(opts.Registerer),
		requests: make(chan *appendRequest, opts.MaxBatch),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	// One writer: batches serialise on the chain-head lock anyway, and a
	// second writer measured slower (it splits the waiting appends into
	// smaller batches).
	go func() {
		defer close(s.stopped)
		s.writeLoop()
	}()
	return s
}

// Close stops the writer after the batch in flight; appends still queued
// fail with EUNAVAILABLE.
func (s *Store) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.stopped
}

// Append appends events to one stream if its version matches expected.
func (s *Store) Append(ctx context.Context, streamID string, expected domain.ExpectedVersion, events ...domain.NewEvent) (domain.AppendResult, error) {
	return s.AppendStreams(ctx, domain.StreamAppend{StreamID: streamID, Expected: expected, Events: events})
}

// AppendStreams appends to several streams atomically: either every stream's
// expected version holds and all events are written, or nothing is. This is
// how a unique name is reserved together with the aggregate that takes it.
//
// Re-appending events whose ids are all stored already succeeds without
// writing, so a client may retry an append whose outcome it did not learn.
func (s *Store) AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error) {
	prepared, err := prepare(appends)
	if err != nil {
		return domain.AppendResult{}, err
	}
	started := time.Now()
	shuttingDown := domain.Errorf(domain.EUNAVAILABLE, "the event store is shutting down")
	select {
	case <-s.stop:
		return domain.AppendResult{}, shuttingDown
	default:
	}
	req := &appendRequest{ctx: ctx, appends: prepared, result: make(chan appendOutcome, 1)}
	select {
	case s.requests <- req:
	case <-s.stop:
		return domain.AppendResult{}, shuttingDown
	case <-ctx.Done():
		return domain.AppendResult{}, ctx.Err()
	}
	select {
	case out := <-req.result:
		s.metrics.observeAppend(time.Since(started), out.err)
		return out.result, out.err
	case <-s.stopped:
		// The writer finished its last batch; a request it never took is lost.
		select {
		case out := <-req.result:
			return out.result, out.err
		default:
			return domain.AppendResult{}, shuttingDown
		}
	case <-ctx.Done():
		// The writer may still commit it; the event ids make a retry safe.
		return domain.AppendResult{}, ctx.Err()
	}
}

// prepare validates appends and computes their rows' state-independent
// parts.
func prepare(appends []domain.StreamAppend) ([]preparedAppend, error) {
	if len(appends) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "an append needs at least one stream")
	}
	out := make([]preparedAppend, 0, len(appends))
	seenStreams := make(map[string]bool, len(appends))
	seenIDs := make(map[uuid.UUID]bool)
	for _, a := range appends {
		if a.StreamID == "" {
			return nil, domain.Errorf(domain.EINVALID, "stream id is empty")
		}
		if seenStreams[a.StreamID] {
			return nil, domain.Errorf(domain.EINVALID, "stream %q appears twice in one append", a.StreamID)
		}
		seenStreams[a.StreamID] = true
		if a.Expected < domain.ExpectAny {
			return nil, domain.Errorf(domain.EINVALID, "invalid expected version %d", a.Expected)
		}
		if len(a.Events) == 0 {
			return nil, domain.Errorf(domain.EINVALID, "append to %q has no events", a.StreamID)
		}
		pa := preparedAppend{streamID: a.StreamID, expected: a.Expected, events: make([]preparedEvent, 0, len(a.Events))}
		for _, e := range a.Events {
			id, err := uuid.Parse(e.ID)
			if err != nil {
				return nil, domain.Errorf(domain.EINVALID, "event id %q is not a UUID", e.ID)
			}
			if seenIDs[id] {
				return nil, domain.Errorf(domain.EINVALID, "event id %s appears twice in one append", e.ID)
			}
			seenIDs[id] = true
			if e.Type == "" {
				return nil, domain.Errorf(domain.EINVALID, "event type is empty")
			}
			if e.SchemaVersion < 1 {
				return nil, domain.Errorf(domain.EINVALID, "event %s has schema version %d; versions start at 1", e.Type, e.SchemaVersion)
			}
			if !json.Valid(e.Data) {
				return nil, domain.Errorf(domain.EINVALID, "event %s data is not valid JSON", e.Type)
			}
			metadata, err := json.Marshal(e.Metadata)
			if err != nil {
				return nil, domain.WrapError(domain.EINVALID, "event metadata cannot be encoded", err)
			}
			pa.events = append(pa.events, preparedEvent{
				id: id, eventType: e.Type, schemaVersion: int32(e.SchemaVersion), data: e.Data, metadata: metadata,
			})
		}
		out = append(out, pa)
	}
	return out, nil
}

func (s *Store) writeLoop() {
	for {
		var first *appendRequest
		select {
		case <-s.stop:
			s.failQueued()
			return
		case first = <-s.requests:
		}
		batch := []*appendRequest{first}
	collect:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r := <-s.requests:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.commit(batch)
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.requests:
			r.result <- appendOutcome{err: domain.Errorf(domain.EUNAVAILABLE, "the event store is shutting down")}
		default:
			return
		}
	}
}

// commit writes a batch. A failure of the whole transaction (as opposed to a
// per-append conflict) is retried append by append, so one bad request never
// fails the others that happened to share its batch.
func (s *Store) commit(batch []*appendRequest) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.result <- appendOutcome{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The batch outlives any single caller's context: one caller giving up
	// must not abort the others' writes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.metrics.batchSize.Observe(float64(len(live)))
	outcomes, err := s.writeBatch(ctx, live)
	if err == nil {
		for i, r := range live {
			r.result <- outcomes[i]
		}
		return
	}
	if len(live) == 1 {
		s.logger.Error("append failed", "error", err)
		live[0].result <- appendOutcome{err: translate(err)}
		return
	}
	s.logger.Warn("batch append failed; retrying appends one by one", "error", err, "batch", len(live))
	for _, r := range live {
		s.commit([]*appendRequest{r})
	}
}

// pendingRow is one event as it will be inserted.
type pendingRow struct {
	position      int64
	streamID      string
	version       int64
	eventID       uuid.UUID
	eventType     string
	schemaVersion int32
	data          string
	metadata      string
	prevHash      []byte
	hash          []byte
}

// storedEvent is what the idempotency check needs of an event already stored.
type storedEvent struct {
	position int64
	streamID string
	version  int64
}

// writeBatch commits a batch. When the writer's cache knows every stream in
// the batch and nothing else has appended since its last commit, the batch
// goes in one round trip (fastBatch); otherwise, or when that guess proves
// wrong, it reads what it needs under the lock first (slowBatch).
func (s *Store) writeBatch(ctx context.Context, batch []*appendRequest) ([]appendOutcome, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()

	streamIDs, eventIDs := batchKeys(batch)
	if s.cache.covers(streamIDs) {
		outcomes, done, err := s.fastBatch(ctx, conn, batch, streamIDs)
		if done {
			return outcomes, nil
		}
		s.cache.reset()
		// A unique violation means an event id of the batch is stored
		// already: the slow path, which looks ids up, makes it idempotent.
		if err != nil && !isUniqueViolation(err) {
			return nil, err
		}
	}
	outcomes, err := s.slowBatch(ctx, conn, batch, streamIDs, eventIDs)
	if err != nil {
		s.cache.reset()
	}
	return outcomes, err
}

func batchKeys(batch []*appendRequest) ([]string, []uuid.UUID) {
	var streamIDs []string
	var eventIDs []uuid.UUID
	seenStream := make(map[string]bool)
	for _, r := range batch {
		for _, a := range r.appends {
			if !seenStream[a.streamID] {
				seenStream[a.streamID] = true
				streamIDs = append(streamIDs, a.streamID)
			}
			for _, e := range a.events {
				eventIDs = append(eventIDs, e.id)
			}
		}
	}
	return streamIDs, eventIDs
}

// fastBatch plans the batch from the cache and sends lock, guarded insert,
// head update and commit in one pipeline. The insert and the head update
// only take effect if the head is still where this writer left it, which
// also proves the cached stream versions exact. done is false when that
// guard failed (nothing was written) or the transaction failed.
func (s *Store) fastBatch(ctx context.Context, conn *pgxpool.Conn, batch []*appendRequest, streamIDs []string) ([]appendOutcome, bool, error) {
	head := s.cache.head
	versions := make(map[string]int64, len(streamIDs))
	for _, id := range streamIDs {
		versions[id] = s.cache.versions[id]
	}
	now := s.recordedAt(head.recordedAt)
	outcomes, rows, last := planBatch(batch, versions, make(map[uuid.UUID]storedEvent), head, now)
	if len(rows) == 0 {
		// Every append was refused, judged by the cache alone: only a
		// transaction that proves the head unmoved may report that.
		return nil, false, nil
	}
	var moved int64
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT 1 FROM event_chain_head WHERE singleton FOR UPDATE")
	b.Queue(insertEvents+" WHERE EXISTS (SELECT 1 FROM event_chain_head WHERE singleton AND position = $12)",
		append(columns(rows, now), head.position)...)
	b.Queue("UPDATE event_chain_head SET position = $1, hash = $2, recorded_at = $3 WHERE singleton AND position = $4",
		last.position, last.hash, now, head.position).Exec(func(ct pgconn.CommandTag) error {
		moved = ct.RowsAffected()
		return nil
	})
	b.Queue("SELECT pg_notify($1, $2)", NotifyChannel, strconv.FormatInt(last.position, 10))
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(conn)
		return nil, false, fmt.Errorf("append batch: %w", err)
	}
	if moved != 1 {
		// Another process appended meanwhile: the guarded statements
		// changed nothing and the empty transaction committed.
		return nil, false, nil
	}
	s.committed(versions, last, now, len(rows))
	return outcomes, true, nil
}

// slowBatch runs one transaction in two round trips: the first begins it,
// locks the chain head and reads the current versions and already-stored
// ids; the second inserts every row, moves the head, notifies and commits.
func (s *Store) slowBatch(ctx context.Context, conn *pgxpool.Conn, batch []*appendRequest, streamIDs []string, eventIDs []uuid.UUID) ([]appendOutcome, error) {
	var (
		head     chainHead
		headTime pgtype.Timestamptz
		versions = make(map[string]int64, len(streamIDs))
		stored   = make(map[uuid.UUID]storedEvent)
	)
	first := &pgx.Batch{}
	first.Queue("BEGIN")
	first.Queue("SELECT position, hash, recorded_at FROM event_chain_head WHERE singleton FOR UPDATE").QueryRow(func(row pgx.Row) error {
		return row.Scan(&head.position, &head.hash, &headTime)
	})
	first.Queue(currentVersions, streamIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			versions[id] = v
		}
		return rows.Err()
	})
	first.Queue("SELECT event_id, position, stream_id, version FROM events WHERE event_id = ANY($1::uuid[])", eventIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			var ev storedEvent
			if err := rows.Scan(&id, &ev.position, &ev.streamID, &ev.version); err != nil {
				return err
			}
			stored[id] = ev
		}
		return rows.Err()
	})
	if err := conn.SendBatch(ctx, first).Close(); err != nil {
		rollback(conn)
		return nil, fmt.Errorf("lock chain head: %w", err)
	}
	if headTime.Valid && headTime.InfinityModifier == pgtype.Finite {
		head.recordedAt = headTime.Time.UTC()
	}
	now := s.recordedAt(head.recordedAt)
	for _, id := range streamIDs {
		if _, ok := versions[id]; !ok {
			versions[id] = 0 // the stream has no events yet
		}
	}
	outcomes, rows, last := planBatch(batch, versions, stored, head, now)
	if len(rows) == 0 {
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			rollback(conn)
			return nil, fmt.Errorf("commit: %w", err)
		}
		s.cache.set(head, versions)
		return outcomes, nil
	}

	second := &pgx.Batch{}
	second.Queue(insertEvents, columns(rows, now)...)
	second.Queue("UPDATE event_chain_head SET position = $1, hash = $2, recorded_at = $3 WHERE singleton", last.position, last.hash, now)
	second.Queue("SELECT pg_notify($1, $2)", NotifyChannel, strconv.FormatInt(last.position, 10))
	second.Queue("COMMIT")
	if err := conn.SendBatch(ctx, second).Close(); err != nil {
		rollback(conn)
		return nil, fmt.Errorf("insert events: %w", err)
	}
	s.committed(versions, last, now, len(rows))
	return outcomes, nil
}

// recordedAt is the time stamped on a batch: now, but never before the
// previous batch, so recorded-at grows with position across replicas.
func (s *Store) recordedAt(previous time.Time) time.Time {
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	if now.Before(previous) {
		return previous
	}
	return now
}

func (s *Store) committed(versions map[string]int64, last pendingRow, at time.Time, events int) {
	s.cache.set(chainHead{position: last.position, hash: last.hash, recordedAt: at}, versions)
	s.metrics.eventsAppended.Add(float64(events))
}

// planBatch decides every request of the batch in order against the state
// the batch has reached, and returns their outcomes, the rows to insert and
// the last of them.
func planBatch(batch []*appendRequest, versions map[string]int64, stored map[uuid.UUID]storedEvent, head chainHead, now time.Time) ([]appendOutcome, []pendingRow, pendingRow) {
	outcomes := make([]appendOutcome, len(batch))
	var rows []pendingRow
	position, prevHash := head.position, head.hash
	for i, r := range batch {
		out, newRows := planAppend(r.appends, versions, stored, position, prevHash, now)
		outcomes[i] = out
		if len(newRows) > 0 {
			rows = append(rows, newRows...)
			last := newRows[len(newRows)-1]
			position, prevHash = last.position, last.hash
		}
	}
	var last pendingRow
	if len(rows) > 0 {
		last = rows[len(rows)-1]
	}
	return outcomes, rows, last
}

// currentVersions reads each stream's last version with one backward index
// probe per stream, however long the stream is.
const currentVersions = `SELECT s.id, e.version
FROM unnest($1::text[]) AS s(id)
CROSS JOIN LATERAL (
  SELECT version FROM events WHERE stream_id = s.id ORDER BY version DESC LIMIT 1
) AS e`

const insertEvents = `INSERT INTO events
  (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
SELECT p, s, v, id, t, sv, d, m, $9, ph, h
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::int[], $7::json[], $8::json[], $10::bytea[], $11::bytea[])
  AS u(p, s, v, id, t, sv, d, m, ph, h)`

func columns(rows []pendingRow, recordedAt time.Time) []any {
	n := len(rows)
	positions, versions := make([]int64, n), make([]int64, n)
	streams, types, data, metadata := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ids := make([]uuid.UUID, n)
	schemaVersions := make([]int32, n)
	prevHashes, hashes := make([][]byte, n), make([][]byte, n)
	for i, r := range rows {
		positions[i], streams[i], versions[i], ids[i] = r.position, r.streamID, r.version, r.eventID
		types[i], schemaVersions[i], data[i], metadata[i] = r.eventType, r.schemaVersion, r.data, r.metadata
		prevHashes[i], hashes[i] = r.prevHash, r.hash
	}
	return []any{positions, streams, versions, ids, types, schemaVersions, data, metadata, recordedAt, prevHashes, hashes}
}

// planAppend decides one request against the state the batch has reached and
// returns its outcome and the rows to insert. It updates versions and stored
// so later requests in the same batch see this one's effect.
func planAppend(appends []preparedAppend, versions map[string]int64, stored map[uuid.UUID]storedEvent,
	position int64, prevHash []byte, now time.Time) (appendOutcome, []pendingRow) {
	total, already := 0, 0
	var lastStored storedEvent
	for _, a := range appends {
		for _, e := range a.events {
			total++
			if ev, ok := stored[e.id]; ok {
				already++
				if ev.position > lastStored.position {
					lastStored = ev
				}
			}
		}
	}
	if already == total {
		result := domain.AppendResult{LastPosition: lastStored.position, Versions: make(map[string]int64)}
		for _, a := range appends {
			result.Versions[a.streamID] = versions[a.streamID]
		}
		return appendOutcome{result: result}, nil
	}
	if already > 0 {
		return appendOutcome{err: domain.Errorf(domain.ECONFLICT, "%d of the %d events in this append are already stored; an append is stored whole or not at all", already, total)}, nil
	}
	for _, a := range appends {
		current := versions[a.streamID]
		if a.expected != domain.ExpectAny && int64(a.expected) != current {
			if a.expected == domain.ExpectNoStream {
				return appendOutcome{err: domain.Errorf(domain.ECONFLICT, "stream %s already exists", a.streamID)}, nil
			}
			return appendOutcome{err: domain.Errorf(domain.ECONFLICT, "stream %s is at version %d, not the expected %d", a.streamID, current, a.expected)}, nil
		}
	}

	var rows []pendingRow
	result := domain.AppendResult{Versions: make(map[string]int64, len(appends))}
	for _, a := range appends {
		version := versions[a.streamID]
		for _, e := range a.events {
			position++
			version++
			row := pendingRow{
				position: position, streamID: a.streamID, version: version, eventID: e.id,
				eventType: e.eventType, schemaVersion: e.schemaVersion,
				data: string(e.data), metadata: string(e.metadata), prevHash: prevHash,
			}
			row.hash = chainHash(prevHash, row.position, row.streamID, row.version, e.id, row.eventType,
				row.schemaVersion, e.data, e.metadata, now)
			prevHash = row.hash
			rows = append(rows, row)
			stored[e.id] = storedEvent{position: position, streamID: a.streamID, version: version}
		}
		versions[a.streamID] = version
		result.Versions[a.streamID] = version
	}
	result.LastPosition = position
	return appendOutcome{result: result}, rows
}

// rollback ends a failed transaction; if even that fails the connection is
// closed so the pool never hands out a connection stuck in a transaction.
func rollback(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
		_ = conn.Conn().Close(ctx)
	}
}

// translate maps database failures to the vault's error codes. A unique
// violation means another writer broke the single-writer assumption (for
// example a direct INSERT); it is still a conflict, never a 500.
func translate(err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if isUniqueViolation(err) {
		return domain.WrapError(domain.ECONFLICT, "a concurrent append to the same stream won", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return domain.WrapError(domain.EUNAVAILABLE, "the event store did not answer in time", err)
	}
	return domain.WrapError(domain.EUNAVAILABLE, "the event store is unavailable", err)
}
