package eventstore

import (
	"context"
	"fmt"

	"github.com/securevault/vault/eventstore/internal/esdb"
)

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
	})
	if err != nil {
		return translate(fmt.Errorf("save snapshot of %s: %w", streamID, err))
	}
	return nil
}

// LoadSnapshot returns the latest snapshot of a stream, if any.
func (s *Store) LoadSnapshot(ctx context.Context, streamID string) (Snapshot, bool, error) {
	row, err := s.queries.LoadSnapshot(ctx, s.pool, streamID)
	if isNoRows(err) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, translate(fmt.Errorf("load snapshot of %s: %w", streamID, err))
	}
	return Snapshot{Version: row.Version, SchemaVersion: int(row.SchemaVersion), State: row.State}, true, nil
}
