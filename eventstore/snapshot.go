package eventstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

// snapshotLookups bounds how many rejected snapshots one SnapshotAt passes
// over before it answers "none": each rejected one is deleted, so a forger
// can only cost a longer fold, never an unbounded loop.
const snapshotLookups = 3

// snapshotMAC authenticates a snapshot under a chain key. A snapshot is a
// cache, but one a database owner could forge into a role or a policy that
// was never granted; the MAC makes a forged one as useless as a missing one.
// It covers the event the state was folded up to (stream, layout, position,
// version, that event's hash) and the exact bytes of the state.
func snapshotMAC(k *chainKey, snap domain.Snapshot) []byte {
	m := k.get()
	defer k.put(m)
	m.buf = appendString(m.buf[:0], "securevault snapshot v2")
	m.buf = appendString(m.buf, snap.StreamID)
	m.buf = appendInt(m.buf, int64(snap.Layout))
	m.buf = appendInt(m.buf, snap.Position)
	m.buf = appendInt(m.buf, snap.Version)
	m.buf = appendString(m.buf, string(snap.EventHash))
	m.h.Write(m.buf)
	m.h.Write(snap.State) // last, so its length needs no prefix
	return m.h.Sum(nil)
}

// SnapshotAt returns the newest snapshot of a stream in the given layout at
// or below maxPosition (math.MaxInt64: the newest of all) whose event is
// still in the log with the position and hash it was taken at and whose MAC
// verifies. Snapshots are a cache: one the log no longer backs is passed
// over, and one that fails its MAC (forged, or made under a key this replica
// no longer holds) is logged, counted and deleted, never returned.
func (s *Store) SnapshotAt(ctx context.Context, streamID string, layout int, maxPosition int64) (domain.Snapshot, bool, error) {
	if layout < 1 || layout > math.MaxInt32 {
		return domain.Snapshot{}, false, domain.Errorf(domain.EINTERNAL, "snapshot layout %d is out of range", layout)
	}
	for range snapshotLookups {
		row, err := s.queries.SnapshotAt(ctx, s.pool, esdb.SnapshotAtParams{StreamID: streamID, Layout: int32(layout), MaxPosition: maxPosition})
		if isNoRows(err) {
			return domain.Snapshot{}, false, nil
		}
		if err != nil {
			return domain.Snapshot{}, false, translate(fmt.Errorf("load snapshot of %s: %w", streamID, err))
		}
		snap := domain.Snapshot{
			StreamID: row.StreamID, Layout: int(row.Layout), Version: row.Version, Position: row.Position,
			EventHash: row.EventHash, State: row.State,
		}
		key, known := s.keys.byKeyID(row.MacKeyID)
		if known && linksEqual(snapshotMAC(key, snap), row.Mac) {
			return snap, true, nil
		}
		s.logger.ErrorContext(ctx, "snapshot failed its integrity check; ignoring and deleting it",
			"stream_id", streamID, "position", row.Position, "key_known", known)
		s.metrics.badSnapshots.Inc()
		if err := s.DeleteSnapshot(ctx, snap); err != nil {
			s.logger.WarnContext(ctx, "cannot delete the rejected snapshot", "stream_id", streamID, "error", err)
			return domain.Snapshot{}, false, nil
		}
	}
	return domain.Snapshot{}, false, nil
}

// SaveSnapshots stores snapshots in one round trip, each authenticated under
// the current chain key. A snapshot already stored at the same position and
// layout is kept: the state at one event of the log never changes.
func (s *Store) SaveSnapshots(ctx context.Context, snaps ...domain.Snapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	params := make([]esdb.SaveSnapshotsParams, 0, len(snaps))
	for _, snap := range snaps {
		if snap.Layout < 1 || snap.Layout > math.MaxInt32 || snap.Version < 1 || snap.Position < 1 || len(snap.EventHash) == 0 {
			return domain.Errorf(domain.EINTERNAL, "snapshot of %s at version %d does not name an event of the log", snap.StreamID, snap.Version)
		}
		params = append(params, esdb.SaveSnapshotsParams{
			StreamID: snap.StreamID, Layout: int32(snap.Layout), Position: snap.Position, Version: snap.Version,
			EventHash: snap.EventHash, State: snap.State,
			Mac: snapshotMAC(s.keys.current, snap), MacKeyID: s.keys.CurrentID(),
		})
	}
	var errs []error
	s.queries.SaveSnapshots(ctx, s.pool, params).Exec(func(i int, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("save snapshot of %s at version %d: %w", params[i].StreamID, params[i].Version, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return translate(err)
	}
	return nil
}

// DeleteSnapshot removes one snapshot, for example one whose state the
// domain could not restore or whose MAC failed.
func (s *Store) DeleteSnapshot(ctx context.Context, snap domain.Snapshot) error {
	if snap.Layout < 1 || snap.Layout > math.MaxInt32 {
		return domain.Errorf(domain.EINTERNAL, "snapshot layout %d is out of range", snap.Layout)
	}
	err := s.queries.DeleteSnapshot(ctx, s.pool, esdb.DeleteSnapshotParams{StreamID: snap.StreamID, Layout: int32(snap.Layout), Position: snap.Position})
	if err != nil {
		return translate(fmt.Errorf("delete snapshot of %s at position %d: %w", snap.StreamID, snap.Position, err))
	}
	return nil
}
