package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

// writeBatch commits a batch. When the writer's cache knows every stream in
// the batch and nothing else has appended since its last commit, the batch
// goes in one round trip (fastBatch); otherwise, or when that guess proves
// wrong, it reads what it needs under the lock first (slowBatch).
func (s *Store) writeBatch(ctx context.Context, batch []*appendRequest) ([]appendOutcome, error) {
	if err := s.refuseIfTampered(); err != nil {
		return nil, err
	}
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
// only take effect if the head is still exactly where this writer left it
// (position and hash), which also proves the cached stream versions exact.
// done is false when that guard failed (nothing was written) or the
// transaction failed.
func (s *Store) fastBatch(ctx context.Context, conn *pgxpool.Conn, batch []*appendRequest, streamIDs []string) ([]appendOutcome, bool, error) {
	head := s.cache.head
	versions := make(map[string]int64, len(streamIDs))
	for _, id := range streamIDs {
		versions[id] = s.cache.versions[id]
	}
	now := s.recordedAt(head.recordedAt)
	outcomes, rows, last := s.planBatch(batch, versions, make(map[uuid.UUID]storedEvent), head, now, false)
	if len(rows) == 0 {
		// Every append was refused, judged by the cache alone: only a
		// transaction that proves the head unmoved may report that.
		return nil, false, nil
	}
	var moved int64
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT 1 FROM event_chain_head WHERE singleton FOR UPDATE")
	b.Queue(insertEvents+" WHERE EXISTS (SELECT 1 FROM event_chain_head WHERE singleton AND position = $13 AND hash = $14)",
		append(s.columns(rows, now), head.position, head.hash)...)
	b.Queue("UPDATE event_chain_head SET position = $1, hash = $2, recorded_at = $3 WHERE singleton AND position = $4 AND hash = $5",
		last.position, last.hash, now, head.position, head.hash).Exec(func(ct pgconn.CommandTag) error {
		moved = ct.RowsAffected()
		return nil
	})
	// Notify only when the guarded statements took effect: the payload is
	// read as the head of the log (pgnotify.Head), so it must never name a
	// position past the head this transaction committed.
	b.Queue("SELECT pg_notify($1, $2) FROM event_chain_head WHERE singleton AND position = $3",
		NotifyChannel, strconv.FormatInt(last.position, 10), last.position)
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(conn)
		return nil, false, fmt.Errorf("append batch: %w", err)
	}
	if moved != 1 {
		// Another process appended meanwhile (or the head row was
		// changed under us): the guarded statements changed nothing and
		// the empty transaction committed. The slow path finds out which.
		return nil, false, nil
	}
	s.committed(versions, last, now, len(rows))
	return outcomes, true, nil
}

// slowBatch runs one transaction in two round trips: the first begins it,
// locks the chain head and reads the current versions, the already-stored
// ids, the event the head points at and the log's last position; the second
// inserts every row, moves the head, notifies and commits.
//
// Before planning anything on it, the head is checked: it must not have
// moved back (below what this writer already saw, or below the last stored
// event), and the event it names must be stored with its hash and a valid
// link. Otherwise the tail was cut or the head forged, and appending would
// hand out positions that were already used.
func (s *Store) slowBatch(ctx context.Context, conn *pgxpool.Conn, batch []*appendRequest, streamIDs []string, eventIDs []uuid.UUID) ([]appendOutcome, error) {
	var (
		head      chainHead
		headTime  pgtype.Timestamptz
		lastPos   int64
		headEvent *esdb.Event
		versions  = make(map[string]int64, len(streamIDs)+1)
		stored    = make(map[uuid.UUID]storedEvent)
	)
	lookup := append(streamIDs[:len(streamIDs):len(streamIDs)], domain.ChainSealStream)
	first := &pgx.Batch{}
	first.Queue("BEGIN")
	first.Queue("SELECT position, hash, recorded_at FROM event_chain_head WHERE singleton FOR UPDATE").QueryRow(func(row pgx.Row) error {
		return row.Scan(&head.position, &head.hash, &headTime)
	})
	first.Queue("SELECT COALESCE(max(position), 0) FROM events").QueryRow(func(row pgx.Row) error {
		return row.Scan(&lastPos)
	})
	first.Queue("SELECT " + eventColumns + " FROM events WHERE position = (SELECT position FROM event_chain_head WHERE singleton)").Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var e esdb.Event
			if err := scanEvent(rows, &e); err != nil {
				return err
			}
			headEvent = &e
		}
		return rows.Err()
	})
	first.Queue(currentVersions, lookup).Query(func(rows pgx.Rows) error {
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
	if headEvent != nil && headEvent.HashKeyID.Valid {
		head.keyID = headEvent.HashKeyID.String
	}
	seal, err := s.checkHead(ctx, head, lastPos, headEvent, versions[domain.ChainSealStream])
	if err != nil {
		rollback(conn)
		return nil, err
	}
	s.highWater = max(s.highWater, head.position)
	now := s.recordedAt(head.recordedAt)
	for _, id := range streamIDs {
		if _, ok := versions[id]; !ok {
			versions[id] = 0 // the stream has no events yet
		}
	}
	delete(versions, domain.ChainSealStream)
	outcomes, rows, last := s.planBatch(batch, versions, stored, head, now, seal)
	if len(rows) == 0 {
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			rollback(conn)
			return nil, fmt.Errorf("commit: %w", err)
		}
		s.cache.set(head, versions)
		return outcomes, nil
	}

	second := &pgx.Batch{}
	second.Queue(insertEvents, s.columns(rows, now)...)
	second.Queue("UPDATE event_chain_head SET position = $1, hash = $2, recorded_at = $3 WHERE singleton", last.position, last.hash, now)
	second.Queue("SELECT pg_notify($1, $2)", NotifyChannel, strconv.FormatInt(last.position, 10))
	second.Queue("COMMIT")
	if err := conn.SendBatch(ctx, second).Close(); err != nil {
		rollback(conn)
		return nil, fmt.Errorf("insert events: %w", err)
	}
	if seal {
		s.logger.Warn("sealed the unkeyed (SHA-256) prefix of the event log under the chain key",
			"sealed_through", head.position, "key_id", s.keys.CurrentID())
	}
	s.committed(versions, last, now, len(rows))
	return outcomes, nil
}

// checkHead refuses to append on a head that is not the true end of the
// log, and reports whether the next link must be the seal (the head is an
// unkeyed link: the first keyed link after it seals the unkeyed prefix).
func (s *Store) checkHead(ctx context.Context, head chainHead, lastPos int64, headEvent *esdb.Event, sealVersion int64) (bool, error) {
	switch {
	case head.position < s.highWater:
		return false, s.tampered(head.position+1, fmt.Sprintf("the chain head moved back from position %d to %d: the log's tail was removed", s.highWater, head.position))
	case lastPos > head.position:
		return false, s.tampered(head.position+1, fmt.Sprintf("the log holds events up to position %d but the chain head claims %d: the head was moved back", lastPos, head.position))
	case head.position == 0:
		return false, nil
	case headEvent == nil:
		return false, s.tampered(head.position, fmt.Sprintf("the chain head points at position %d, which holds no event", head.position))
	case !linksEqual(headEvent.Hash, head.hash):
		return false, s.tampered(head.position, "the chain head's hash does not match the last event")
	}
	reason, err := s.newChecker().check(ctx, headEvent)
	if err != nil {
		return false, err
	}
	if reason != "" {
		return false, s.tampered(head.position, reason)
	}
	if headEvent.HashKeyID.Valid {
		return false, nil
	}
	if sealVersion != 0 {
		return false, s.tampered(head.position, "the log is sealed but its head carries an unkeyed link")
	}
	return true, nil
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
	s.cache.set(chainHead{position: last.position, hash: last.hash, recordedAt: at, keyID: s.keys.CurrentID()}, versions)
	s.highWater = max(s.highWater, last.position)
	s.metrics.eventsAppended.Add(float64(events))
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

// eventColumns is every column of events in the order scanEvent reads.
const eventColumns = "position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, prev_hash, hash, hash_key_id"

func scanEvent(row pgx.Row, e *esdb.Event) error {
	return row.Scan(&e.Position, &e.StreamID, &e.Version, &e.EventID, &e.Type, &e.SchemaVersion,
		&e.Data, &e.Metadata, &e.RecordedAt, &e.PrevHash, &e.Hash, &e.HashKeyID)
}
