package eventstore

import (
	"context"
	"fmt"

	"github.com/securevault/vault/eventstore/internal/esdb"
)

// snapshotMAC authenticates a snapshot under a chain key. A snapshot is a
// cache, but one a database owner could forge into a role or a policy that
// was never granted; the MAC makes a forged one as useless as a missing one.
func snapshotMAC(k *chainKey, streamID string, snap Snapshot) []byte {
	m := k.get()
	defer k.put(m)
	m.buf = appendString(m.buf[:0], "securevault snapshot v1")
	m.buf = appendString(m.buf, streamID)
	m.buf = appendInt(m.buf, snap.Version)
	m.buf = appendInt(m.buf, int64(snap.SchemaVersion))
	m.h.Write(m.buf)
	m.h.Write(snap.State) // last, so its length needs no prefix
	return m.h.Sum(nil)
}

// Snapshot is folded aggregate state at a stream version. It is a cache:
// losing it costs a longer fold, never correctness.
type Snapshot struct {
	Version       int64
	SchemaVersion int
	State         []byte
}

// SaveSnapshot stores state unless a newer snapshot is already stored.
func (s *Store) SaveSnapshot(ctx context.Context, streamID string, snap Snapshot) error {
	err := s.queries.SaveSnapshot(ctx, s.pool, esdb.SaveSnapshotParams{
		StreamID: streamID, Version: snap.Version, SchemaVersion: int32(snap.SchemaVersion), State: snap.State,
		Mac: snapshotMAC(s.keys.current, streamID, snap), MacKeyID: s.keys.CurrentID(),
	})
	if err != nil {
		return translate(fmt.Errorf("save snapshot of %s: %w", streamID, err))
	}
	return nil
}

// LoadSnapshot returns the latest snapshot of a stream, if any. A snapshot
// whose MAC does not verify (forged, or made under a key this replica no
// longer holds) is reported as missing, logged, and deleted so a fresh one
// can replace it: the aggregate is folded from the (verified) log instead.
func (s *Store) LoadSnapshot(ctx context.Context, streamID string) (Snapshot, bool, error) {
	row, err := s.queries.LoadSnapshot(ctx, s.pool, streamID)
	if isNoRows(err) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, translate(fmt.Errorf("load snapshot of %s: %w", streamID, err))
	}
	snap := Snapshot{Version: row.Version, SchemaVersion: int(row.SchemaVersion), State: row.State}
	key, known := s.keys.byKeyID(row.MacKeyID)
	if known && linksEqual(snapshotMAC(key, streamID, snap), row.Mac) {
		return snap, true, nil
	}
	s.logger.ErrorContext(ctx, "snapshot failed its integrity check; ignoring and deleting it",
		"stream_id", streamID, "version", row.Version, "key_known", known)
	s.metrics.badSnapshots.Inc()
	if err := s.queries.DeleteSnapshot(ctx, s.pool, esdb.DeleteSnapshotParams{StreamID: streamID, Version: row.Version}); err != nil {
		s.logger.WarnContext(ctx, "cannot delete the rejected snapshot", "stream_id", streamID, "error", err)
	}
	return Snapshot{}, false, nil
}
