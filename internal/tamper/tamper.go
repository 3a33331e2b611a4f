// Package tamper plays the attacker of the event log in tests: someone who
// owns the database (a superuser connection, triggers disabled) and knows
// every algorithm the vault uses, but holds none of its keys. Each function
// is one attack that was tried against a real deployment.
//
// The SHA-256 chain encoding is written out here again, on purpose, rather
// than imported: an attacker rebuilds it from the documentation, and a test
// that borrowed the store's own code could not notice the store changing it.
package tamper

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rechain replaces the data of the event at position with edit(data), then
// recomputes, with plain SHA-256 as the unkeyed chain defines it, the link of
// that event and of every later one, and points the chain head at the new
// last hash: a rewrite that a hash chain alone cannot tell from the truth.
// Where the log records which key made a link, the attacker claims the
// unkeyed (legacy) form for every rewritten event: it is the only form it
// can compute.
func Rechain(t testing.TB, conn *pgx.Conn, position int64, edit func(data string) string) {
	t.Helper()
	ctx := context.Background()
	disableGuards(t, conn)
	var data string
	must(t, conn.QueryRow(ctx, "SELECT data::text FROM events WHERE position = $1", position).Scan(&data))
	forged := edit(data)
	if forged == data {
		t.Fatalf("tamper: the edit changed nothing at position %d", position)
	}
	_, err := conn.Exec(ctx, "UPDATE events SET data = $2::json WHERE position = $1", position, forged)
	must(t, err)
	RechainFrom(t, conn, position)
}

// RechainFrom recomputes the SHA-256 links from position to the end of the
// log and moves the head to the last one.
func RechainFrom(t testing.TB, conn *pgx.Conn, position int64) {
	t.Helper()
	ctx := context.Background()
	disableGuards(t, conn)
	keyed := hasColumn(t, conn, "events", "hash_key_id")
	var prev []byte
	if position > 1 {
		must(t, conn.QueryRow(ctx, "SELECT hash FROM events WHERE position = $1", position-1).Scan(&prev))
	} else {
		prev = make([]byte, sha256.Size)
	}
	rows, err := conn.Query(ctx, `SELECT position, stream_id, version, event_id, type, schema_version,
		data::text, metadata::text, recorded_at FROM events WHERE position >= $1 ORDER BY position`, position)
	must(t, err)
	type row struct {
		position, version int64
		streamID, typ     string
		eventID           [16]byte
		schemaVersion     int32
		data, metadata    string
		recordedAt        time.Time
		prevHash, hash    []byte
	}
	var all []row
	for rows.Next() {
		var r row
		must(t, rows.Scan(&r.position, &r.streamID, &r.version, &r.eventID, &r.typ, &r.schemaVersion, &r.data, &r.metadata, &r.recordedAt))
		all = append(all, r)
	}
	must(t, rows.Err())
	rows.Close()
	if len(all) == 0 {
		t.Fatalf("tamper: no events from position %d", position)
	}
	for i := range all {
		r := &all[i]
		r.prevHash = prev
		r.hash = sha256Link(prev, r.position, r.streamID, r.version, r.eventID, r.typ, r.schemaVersion, []byte(r.data), []byte(r.metadata), r.recordedAt)
		prev = r.hash
		update := "UPDATE events SET prev_hash = $2, hash = $3 WHERE position = $1"
		if keyed {
			update = "UPDATE events SET prev_hash = $2, hash = $3, hash_key_id = NULL WHERE position = $1"
		}
		_, err := conn.Exec(ctx, update, r.position, r.prevHash, r.hash)
		must(t, err)
	}
	last := all[len(all)-1]
	_, err = conn.Exec(ctx, "UPDATE event_chain_head SET position = $1, hash = $2 WHERE singleton", last.position, last.hash)
	must(t, err)
}

// TruncateTail deletes every event after keep and moves the chain head back
// to the event at keep, so the shortened log is a consistent chain again.
func TruncateTail(t testing.TB, conn *pgx.Conn, keep int64) {
	t.Helper()
	ctx := context.Background()
	disableGuards(t, conn)
	_, err := conn.Exec(ctx, "DELETE FROM events WHERE position > $1", keep)
	must(t, err)
	var hash []byte
	var recordedAt time.Time
	must(t, conn.QueryRow(ctx, "SELECT hash, recorded_at FROM events WHERE position = $1", keep).Scan(&hash, &recordedAt))
	_, err = conn.Exec(ctx, "UPDATE event_chain_head SET position = $1, hash = $2, recorded_at = $3 WHERE singleton", keep, hash, recordedAt)
	must(t, err)
}

// disableGuards turns off the append-only triggers for this session, which
// only a superuser may do.
func disableGuards(t testing.TB, conn *pgx.Conn) {
	t.Helper()
	_, err := conn.Exec(context.Background(), "SET session_replication_role = replica")
	must(t, err)
}

func hasColumn(t testing.TB, conn *pgx.Conn, table, column string) bool {
	t.Helper()
	var n int
	must(t, conn.QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = $2", table, column).Scan(&n))
	return n > 0
}

// sha256Link is the unkeyed chain link: SHA-256 over the previous hash and
// the event's fields, each variable-length field prefixed with its length
// (8 bytes, big endian), integers as 8 bytes big endian, the id as its 16
// bytes and the time as Unix microseconds.
func sha256Link(prev []byte, position int64, streamID string, version int64, eventID [16]byte,
	eventType string, schemaVersion int32, data, metadata []byte, recordedAt time.Time) []byte {
	h := sha256.New()
	h.Write(prev)
	putInt(h, position)
	putBytes(h, []byte(streamID))
	putInt(h, version)
	h.Write(eventID[:])
	putBytes(h, []byte(eventType))
	putInt(h, int64(schemaVersion))
	putBytes(h, data)
	putBytes(h, metadata)
	putInt(h, recordedAt.UnixMicro())
	return h.Sum(nil)
}

func putInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v)) //nolint:gosec // G115: two's-complement bit copy, the same encoding as eventstore's chain hash
	h.Write(b[:])
}

func putBytes(h hash.Hash, b []byte) {
	putInt(h, int64(len(b)))
	h.Write(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("tamper: %w", err))
	}
}
