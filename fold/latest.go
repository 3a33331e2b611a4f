package fold

import (
	"context"
	"math"

	"github.com/securevault/vault/domain"
)

// Latest folds the current state of a stream and reports the position of
// its last event (0 for a stream without events). A short stream is read
// in one round trip and folded; a stream of at least SnapshotEvery events
// loads from its newest snapshot plus the events after it when there is a
// usable one, and stores a fresh snapshot when the fold went SnapshotEvery
// events past it.
func Latest[A Aggregate](ctx context.Context, l *Loader, streamID string, load LoadFunc[A], restore RestoreFunc[A]) (A, int64, error) {
	var zero A
	head, err := l.log.ReadStream(ctx, streamID, 0, SnapshotEvery)
	if err != nil {
		return zero, 0, err
	}
	if len(head) < SnapshotEvery {
		agg, err := load(head)
		return agg, lastPosition(head), err
	}
	if snap, ok := l.snapshotAt(ctx, streamID, math.MaxInt64); ok {
		rest, err := l.readStreamAfter(ctx, streamID, snap.Version)
		if err != nil {
			return zero, 0, err
		}
		agg, err := restoreSnapshot(snap, restore, rest)
		if err == nil {
			position := snap.Position
			if len(rest) > 0 {
				position = rest[len(rest)-1].Position
			}
			l.maybeSnapshot(ctx, agg, rest)
			return agg, position, nil
		}
		l.dropSnapshot(ctx, snap, err)
	}
	rest, err := l.readStreamAfter(ctx, streamID, head[len(head)-1].Version)
	if err != nil {
		return zero, 0, err
	}
	events := append(head, rest...)
	agg, err := load(events)
	if err != nil {
		return agg, 0, err
	}
	l.maybeSnapshot(ctx, agg, events)
	return agg, lastPosition(events), nil
}

func lastPosition(events []domain.RecordedEvent) int64 {
	if len(events) == 0 {
		return 0
	}
	return events[len(events)-1].Position
}

// snapshotAt is the newest usable snapshot of a stream at or below
// maxPosition. A store that fails is logged and answered as "none": folding
// the log is always correct, only slower.
func (l *Loader) snapshotAt(ctx context.Context, streamID string, maxPosition int64) (domain.Snapshot, bool) {
	layout, ok := domain.SnapshotLayout(domain.AggregateOf(streamID))
	if l.snapshots == nil || !ok {
		return domain.Snapshot{}, false
	}
	snap, found, err := l.snapshots.SnapshotAt(ctx, streamID, layout, maxPosition)
	if err != nil {
		l.logger.WarnContext(ctx, "snapshot unreadable; folding the stream", "stream_id", streamID, "error", err)
		return domain.Snapshot{}, false
	}
	return snap, found && snap.StreamID == streamID
}

// restoreSnapshot restores a stored snapshot plus the events after it. The
// domain refuses a state of another layout or aggregate type; a state of
// another stream is refused here.
func restoreSnapshot[A Aggregate](snap domain.Snapshot, restore RestoreFunc[A], rest []domain.RecordedEvent) (A, error) {
	agg, err := restore(snap.State, snap.Version, rest)
	if err != nil {
		return agg, err
	}
	if agg.StreamID() != snap.StreamID {
		var zero A
		return zero, domain.Errorf(domain.EINTERNAL, "the snapshot of %s holds the state of %s", snap.StreamID, agg.StreamID())
	}
	return agg, nil
}

// snapshotOf is the snapshot of an aggregate whose last folded event is
// last: it names that event, so it is used only while the log holds it.
func snapshotOf(agg Aggregate, last domain.RecordedEvent) (domain.Snapshot, error) {
	state, version, err := agg.Snapshot()
	if err != nil {
		return domain.Snapshot{}, err
	}
	layout, ok := domain.SnapshotLayout(domain.AggregateOf(last.StreamID))
	if !ok || version != last.Version || agg.StreamID() != last.StreamID {
		return domain.Snapshot{}, domain.Errorf(domain.EINTERNAL, "cannot snapshot %s at version %d as event %d of %s",
			agg.StreamID(), version, last.Version, last.StreamID)
	}
	return domain.Snapshot{
		StreamID: last.StreamID, Layout: layout, Version: version, Position: last.Position, EventHash: last.Hash, State: state,
	}, nil
}

// maybeSnapshot stores the aggregate's snapshot when the fold went
// SnapshotEvery events past the one it started from.
func (l *Loader) maybeSnapshot(ctx context.Context, agg Aggregate, folded []domain.RecordedEvent) {
	if l.snapshots == nil || len(folded) < SnapshotEvery {
		return
	}
	snap, err := snapshotOf(agg, folded[len(folded)-1])
	if err != nil {
		l.logger.WarnContext(ctx, "cannot snapshot", "stream_id", agg.StreamID(), "error", err)
		return
	}
	l.saveSnapshots(ctx, snap)
}

// saveSnapshots stores snapshots; failing to is logged, never an error of
// the command or query that folded them.
func (l *Loader) saveSnapshots(ctx context.Context, snaps ...domain.Snapshot) {
	if l.snapshots == nil || len(snaps) == 0 {
		return
	}
	if err := l.snapshots.SaveSnapshots(ctx, snaps...); err != nil {
		l.logger.WarnContext(ctx, "cannot save snapshots", "stream_id", snaps[0].StreamID, "count", len(snaps), "error", err)
	}
}

// dropSnapshot removes a stored snapshot the domain could not restore (a
// corrupt state, or one of another stream): it is logged, and deleting it
// lets the next fold past its event store a good one there.
func (l *Loader) dropSnapshot(ctx context.Context, snap domain.Snapshot, cause error) {
	l.logger.WarnContext(ctx, "snapshot unusable; folding the log instead", "stream_id", snap.StreamID, "position", snap.Position, "error", cause)
	if err := l.snapshots.DeleteSnapshot(ctx, snap); err != nil {
		l.logger.WarnContext(ctx, "cannot delete an unusable snapshot", "stream_id", snap.StreamID, "position", snap.Position, "error", err)
	}
}
