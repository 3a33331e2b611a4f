package fold

import (
	"context"
	"errors"
	"fmt"

	"github.com/securevault/vault/domain"
)

// Folded is an aggregate as it was at an instant, with the first and last
// of its events at or below that instant that the fold read. Last is always
// set; First only when the fold read the stream from its start (Version 1),
// otherwise it is the zero event and EventsAt fetches it.
type Folded[A any] struct {
	Agg         A
	First, Last domain.RecordedEvent
}

// errUnusableSnapshot marks a stored snapshot the domain cannot restore.
var errUnusableSnapshot = errors.New("unusable snapshot")

// At folds a stream as it was at position pos: from the nearest usable
// snapshot at or below pos plus the events after it, or from the start when
// there is none. The cost is that snapshot's lookup (an index probe) plus the
// events between it and pos, not the history before it.
//
// A fold that goes SnapshotEvery events past its starting point stores a
// snapshot every SnapshotEvery events, so the next read near this instant
// starts close to it. The answer never depends on snapshots: the store never
// returns one the log no longer backs, one the domain cannot restore is
// deleted and the next older one tried, and without any the stream is folded
// from its start. found is false when the stream had no event at or below
// pos.
func At[A Aggregate](ctx context.Context, l *Loader, streamID string, pos int64, load LoadFunc[A], restore RestoreFunc[A]) (out Folded[A], found bool, err error) {
	if pos <= 0 {
		return out, false, nil
	}
	for range maxSnapshotAttempts {
		snap, ok := l.snapshotAt(ctx, streamID, pos)
		if !ok {
			break
		}
		f := &chunkFold[A]{l: l, streamID: streamID, load: load, restore: restore}
		out, found, err = f.run(ctx, pos, &snap)
		if !errors.Is(err, errUnusableSnapshot) {
			return out, found, err
		}
		l.dropSnapshot(ctx, snap, err)
	}
	f := &chunkFold[A]{l: l, streamID: streamID, load: load, restore: restore}
	return f.run(ctx, pos, nil)
}

// maxSnapshotAttempts bounds how many unusable snapshots one fold deletes
// and passes over before it folds from the start of the stream.
const maxSnapshotAttempts = 3

// chunkFold folds a stream SnapshotEvery events at a time, each chunk
// restored from the snapshot of the one before, so the snapshots it takes on
// the way are the ones it stores.
type chunkFold[A Aggregate] struct {
	l        *Loader
	streamID string
	load     LoadFunc[A]
	restore  RestoreFunc[A]

	// from is the snapshot the fold continues from (State nil: the start);
	// stored tells that it came from the store and is not yet proven
	// restorable.
	from    domain.Snapshot
	stored  bool
	pending []domain.RecordedEvent
	taken   []domain.Snapshot
	first   domain.RecordedEvent
	last    domain.RecordedEvent
}

func (f *chunkFold[A]) run(ctx context.Context, pos int64, snap *domain.Snapshot) (Folded[A], bool, error) {
	var out Folded[A]
	after := int64(0)
	if snap != nil {
		// Read the snapshot's own event too: it is the last event at or
		// below pos when nothing followed it, and callers show its metadata.
		f.from, f.stored, after = *snap, true, snap.Position-1
	}
	err := f.l.Between(ctx, f.streamID, after, pos, func(events []domain.RecordedEvent) error {
		for _, ev := range events {
			if err := f.add(ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return out, false, err
	}
	if f.last.Version == 0 {
		if snap != nil {
			// The store vouched for the snapshot's event, which the log no
			// longer shows at or below pos.
			return out, false, fmt.Errorf("%w: its event at version %d is not in the log", errUnusableSnapshot, snap.Version)
		}
		return out, false, nil
	}
	agg, err := f.fold()
	if err != nil {
		return out, false, err
	}
	f.l.saveSnapshots(ctx, f.taken...)
	return Folded[A]{Agg: agg, First: f.first, Last: f.last}, true, nil
}

// add takes the next event of the stream.
func (f *chunkFold[A]) add(ev domain.RecordedEvent) error {
	if f.stored && f.last.Version == 0 {
		// The first event read is the snapshot's own, already folded.
		if ev.Version != f.from.Version || ev.Position != f.from.Position {
			return fmt.Errorf("%w: version %d is at position %d, not %d", errUnusableSnapshot, ev.Version, ev.Position, f.from.Position)
		}
		f.last = ev
		return nil
	}
	if ev.Version == 1 {
		f.first = ev
	}
	f.pending = append(f.pending, ev)
	f.last = ev
	if len(f.pending) < SnapshotEvery {
		return nil
	}
	agg, err := f.fold()
	if err != nil {
		return err
	}
	snap, err := snapshotOf(agg, ev)
	if err != nil {
		return err
	}
	f.from, f.stored, f.pending = snap, false, nil
	f.taken = append(f.taken, snap)
	return nil
}

// fold is the aggregate after the pending events.
func (f *chunkFold[A]) fold() (A, error) {
	if f.from.State == nil {
		return f.load(f.pending)
	}
	agg, err := restoreSnapshot(f.from, f.restore, f.pending)
	if err != nil && f.stored {
		return agg, fmt.Errorf("%w: %w", errUnusableSnapshot, err)
	}
	return agg, err
}

// AsOf folds a stream as it is now (maxPosition <= 0: the whole stream) or
// as it was at maxPosition (from the nearest snapshot). A stream without
// events by then is the aggregate's own "not found".
func AsOf[A Aggregate](ctx context.Context, l *Loader, streamID string, maxPosition int64, load LoadFunc[A], restore RestoreFunc[A]) (A, error) {
	if maxPosition <= 0 {
		events, err := l.ReadStream(ctx, streamID)
		if err != nil {
			var zero A
			return zero, err
		}
		return load(events)
	}
	f, found, err := At(ctx, l, streamID, maxPosition, load, restore)
	if err != nil || !found {
		if err == nil {
			return load(nil)
		}
		return f.Agg, err
	}
	return f.Agg, nil
}

// EventsAt returns the events of a stream at the given versions, taking
// those already read from have and fetching the others in one round trip.
func (l *Loader) EventsAt(ctx context.Context, streamID string, have []domain.RecordedEvent, versions ...int64) (map[int64]domain.RecordedEvent, error) {
	out := make(map[int64]domain.RecordedEvent, len(versions))
	for _, ev := range have {
		if ev.Version > 0 {
			out[ev.Version] = ev
		}
	}
	var missing []int64
	for _, v := range versions {
		if _, ok := out[v]; !ok && v > 0 {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		events, err := l.log.ReadStreamVersions(ctx, streamID, missing)
		if err != nil {
			return nil, err
		}
		for _, ev := range events {
			out[ev.Version] = ev
		}
	}
	for _, v := range versions {
		if _, ok := out[v]; !ok {
			return nil, domain.Errorf(domain.EINTERNAL, "stream %s has no event at version %d", streamID, v)
		}
	}
	return out, nil
}

// Between reads the events of a stream with a position in
// (afterPosition, untilPosition], oldest first, a page at a time. Each page
// is found by index probes, so the events outside the range cost nothing.
func (l *Loader) Between(ctx context.Context, streamID string, afterPosition, untilPosition int64, visit func([]domain.RecordedEvent) error) error {
	for afterPosition < untilPosition {
		events, err := l.log.ReadStreamPositions(ctx, streamID, afterPosition, untilPosition, page)
		if err != nil {
			return err
		}
		if err := visit(events); err != nil {
			return err
		}
		if len(events) < page {
			return nil
		}
		afterPosition = events[len(events)-1].Position
	}
	return nil
}

// StreamBetween is Between collected.
func (l *Loader) StreamBetween(ctx context.Context, streamID string, afterPosition, untilPosition int64) ([]domain.RecordedEvent, error) {
	var out []domain.RecordedEvent
	err := l.Between(ctx, streamID, afterPosition, untilPosition, func(events []domain.RecordedEvent) error {
		out = append(out, events...)
		return nil
	})
	return out, err
}
