package eventstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/tamper"
)

// writeLegacyLog stores n events the way the vault did before the chain was
// keyed: SHA-256 links and no key id.
func writeLegacyLog(t *testing.T, db *pgtest.Database, n int) {
	t.Helper()
	ctx := context.Background()
	su := db.Superuser(t)
	for i := 1; i <= n; i++ {
		_, err := su.Exec(ctx, `INSERT INTO events (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
			VALUES ($1, $2, 1, $3, 'ThingCreated', 1, '{"n": 1}', '{"actor":"system"}', now(), '\x00', '\x00')`,
			i, fmt.Sprintf("thing-%d", i), uuid.New())
		require.NoError(t, err)
	}
	tamper.RechainFrom(t, su, 1) // computes the SHA-256 links and the head, as the old writer did
}

type storedRow struct {
	Data, Metadata string
	PrevHash, Hash []byte
	KeyID          *string
}

func storedRows(t *testing.T, db *pgtest.Database, upTo int64) []storedRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		"SELECT data::text, metadata::text, prev_hash, hash, hash_key_id FROM events WHERE position <= $1 ORDER BY position", upTo)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[storedRow])
	require.NoError(t, err)
	return out
}

// TestLegacyLogIsSealedWithoutRewritingEvents: a log written with SHA-256
// links migrates without any event being rewritten; the seal's keyed link
// covers the last SHA-256 hash, later links are keyed, and the old events
// still verify.
func TestLegacyLogIsSealedWithoutRewritingEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	writeLegacyLog(t, db, 3)
	before := storedRows(t, db, 3)
	s := openStore(t, db, eventstore.Options{})

	events, err := s.ReadAll(ctx, 0, 10)
	require.NoError(t, err, "an unsealed legacy log is still readable")
	require.Len(t, events, 3)

	sealed, err := s.Seal(ctx)
	require.NoError(t, err)
	require.True(t, sealed)
	sealed, err = s.Seal(ctx)
	require.NoError(t, err)
	require.False(t, sealed, "a log is sealed once")
	require.Equal(t, before, storedRows(t, db, 3), "no event of the legacy prefix was rewritten")

	res, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
	require.NoError(t, err)
	require.Equal(t, int64(5), res.LastPosition)
	seal, err := s.ReadStream(ctx, domain.ChainSealStream, 0, 0)
	require.NoError(t, err)
	require.Len(t, seal, 1)
	require.Equal(t, int64(4), seal[0].Position)
	require.JSONEq(t, fmt.Sprintf(`{"sealed_position":3,"sealed_hash":"%x","key_id":%q}`, before[2].Hash, eventstore.ChainKeyID(db.ChainKey)), string(seal[0].Data))

	report, err := s.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)
	require.Equal(t, int64(3), report.LegacyThrough)
	require.Equal(t, []string{eventstore.ChainKeyID(db.ChainKey)}, report.KeyIDs)

	// A fresh replica (nothing cached) agrees, and refuses a rewrite of the
	// sealed prefix: recomputing its SHA-256 links breaks the seal.
	fresh := openStore(t, db, eventstore.Options{})
	_, err = fresh.ReadAll(ctx, 0, 10)
	require.NoError(t, err)
	t.Run("rewritten prefix breaks the seal", func(t *testing.T) {
		su := db.Superuser(t)
		_, err := su.Exec(ctx, "SET session_replication_role = replica")
		require.NoError(t, err)
		_, err = su.Exec(ctx, `UPDATE events SET data = '{"n": 2}' WHERE position = 2`)
		require.NoError(t, err)
		tamper.RechainFrom(t, su, 2) // and rewrites the seal's and every later link
		report, err := openStore(t, db, eventstore.Options{}).Verify(ctx, nil)
		require.NoError(t, err)
		require.False(t, report.OK)
		require.Equal(t, int64(4), report.FirstBadPosition, report.Reason)
		_, err = openStore(t, db, eventstore.Options{}).ReadAll(ctx, 0, 10)
		require.Error(t, err, "the rewritten legacy events are not served")
	})
}

// TestAppendsAfterMigrationSealFirst: a writer that appends on an unsealed
// legacy log (vaultctl seed, say) writes the seal before its own event.
func TestAppendsAfterMigrationSealFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	writeLegacyLog(t, db, 2)
	s := openStore(t, db, eventstore.Options{})
	res, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
	require.NoError(t, err)
	require.Equal(t, int64(4), res.LastPosition, "the seal took position 3")
	events, err := s.ReadAll(ctx, 2, 10)
	require.NoError(t, err)
	require.Equal(t, domain.EventChainKeyed, events[0].Type)
	report, err := s.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)
}

// TestChainKeyRotationKeepsOldLinksVerifiable: after a rotation new links
// use the new key and old links verify with the former key their id names;
// without that key they are a verification failure, never accepted.
func TestChainKeyRotationKeepsOldLinksVerifiable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	oldKey := db.ChainKey
	old := openStore(t, db, eventstore.Options{})
	stream := "thing-" + uuid.NewString()
	_, err := old.Append(ctx, stream, domain.ExpectNoStream, event("A", 1))
	require.NoError(t, err)
	old.Close()

	newKey := make([]byte, 32)
	_, err = rand.Read(newKey)
	require.NoError(t, err)
	db.ChainKey = newKey
	rotated := openStore(t, db, eventstore.Options{}, oldKey)
	_, err = rotated.Append(ctx, stream, domain.ExpectVersion(1), event("B", 2))
	require.NoError(t, err)
	events, err := rotated.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 2)
	var ids []string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT array_agg(hash_key_id ORDER BY position) FROM events").Scan(&ids))
	require.Equal(t, []string{eventstore.ChainKeyID(oldKey), eventstore.ChainKeyID(newKey)}, ids)
	report, err := rotated.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)

	forgotten := openStore(t, db, eventstore.Options{}) // the former key dropped too early
	_, err = forgotten.ReadStream(ctx, stream, 0, 0)
	require.ErrorContains(t, err, "does not hold")
	report, err = forgotten.Verify(ctx, nil)
	require.NoError(t, err)
	require.False(t, report.OK)
	require.Equal(t, int64(1), report.FirstBadPosition)
}

// TestForgedSnapshotIsNeverUsed: a snapshot the database owner rewrote (a
// role granted, say) fails its MAC, is reported missing and removed.
func TestForgedSnapshotIsNeverUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	stream := "user-" + uuid.NewString()
	_, err := s.Append(ctx, stream, domain.ExpectNoStream, domain.NewEvent{
		ID: uuid.NewString(), Type: "UserCreated", SchemaVersion: 1, Data: []byte(`{}`), Metadata: domain.Metadata{Actor: "system"},
	})
	require.NoError(t, err)
	events, err := s.ReadStream(ctx, stream, 0, 10)
	require.NoError(t, err)
	ev := events[0]
	require.NoError(t, s.SaveSnapshots(ctx, domain.Snapshot{
		StreamID: stream, Layout: 1, Position: ev.Position, Version: ev.Version, EventHash: ev.Hash, State: []byte(`{"roles":["reader"]}`),
	}))
	snap, ok, err := s.SnapshotAt(ctx, stream, 1, math.MaxInt64)
	require.NoError(t, err)
	require.True(t, ok)
	require.JSONEq(t, `{"roles":["reader"]}`, string(snap.State))

	_, err = db.Pool.Exec(ctx, `UPDATE stream_snapshots SET state = '{"roles":["admin"]}' WHERE stream_id = $1`, stream)
	require.NoError(t, err)
	_, ok, err = s.SnapshotAt(ctx, stream, 1, math.MaxInt64)
	require.NoError(t, err)
	require.False(t, ok, "a forged snapshot is never used")
	var left int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM stream_snapshots WHERE stream_id = $1", stream).Scan(&left))
	require.Zero(t, left, "and it no longer blocks a fresh one")
}
