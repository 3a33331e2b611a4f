package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/securevault/vault/domain"
)

// foldPage is how many events one read of a stream takes while folding it.
const foldPage = 1000

// foldedAt is an aggregate as it was at an instant, with the first and last
// of its events at or below that instant that the fold read. Last is always
// set; First only when the fold read the stream from its start (Version 1),
// otherwise it is the zero event and eventsAt fetches it.
type foldedAt[A any] struct {
	agg         A
	first, last domain.RecordedEvent
}

// errUnusableSnapshot marks a stored snapshot the domain cannot restore.
var errUnusableSnapshot = errors.New("unusable snapshot")

// foldAt folds a stream as it was at position pos: from the nearest usable
// snapshot at or below pos plus the events after it, or from the start when
// there is none. The cost is that snapshot's lookup (an index probe) plus the
// events between it and pos, not the history before it.
//
// A fold that goes snapshotEvery events past its starting point stores a
// snapshot every snapshotEvery events, so the next read near this instant
// starts close to it. The answer never depends on snapshots: the store never
// returns one the log no longer backs, one the domain cannot restore is
// deleted and the next older one tried, and without any the stream is folded
// from its start. found is false when the stream had no event at or below
// pos.
func foldAt[A snapshotter](ctx context.Context, s *Service, streamID string, pos int64,
	load func([]domain.RecordedEvent) (A, error),
	restore func(state []byte, version int64, rest []domain.RecordedEvent) (A, error),
) (out foldedAt[A], found bool, err error) {
	if pos <= 0 {
		return out, false, nil
	}
	for range maxSnapshotAttempts {
		snap, ok := s.snapshotAt(ctx, streamID, pos)
		if !ok {
			break
		}
		f := &chunkFold[A]{s: s, streamID: streamID, load: load, restore: restore}
		out, found, err = f.run(ctx, pos, &snap)
		if !errors.Is(err, errUnusableSnapshot) {
			return out, found, err
		}
		s.dropSnapshot(ctx, snap, err)
	}
	f := &chunkFold[A]{s: s, streamID: streamID, load: load, restore: restore}
	return f.run(ctx, pos, nil)
}

// maxSnapshotAttempts bounds how many unusable snapshots one fold deletes
// and passes over before it folds from the start of the stream.
const maxSnapshotAttempts = 3

// chunkFold folds a stream snapshotEvery events at a time, each chunk
// restored from the snapshot of the one before, so the snapshots it takes on
// the way are the ones it stores.
type chunkFold[A snapshotter] struct {
	s        *Service
	streamID string
	load     func([]domain.RecordedEvent) (A, error)
	restore  func(state []byte, version int64, rest []domain.RecordedEvent) (A, error)

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

func (f *chunkFold[A]) run(ctx context.Context, pos int64, snap *domain.Snapshot) (foldedAt[A], bool, error) {
	var out foldedAt[A]
	after := int64(0)
	if snap != nil {
		// Read the snapshot's own event too: it is the last event at or
		// below pos when nothing followed it, and callers show its metadata.
		f.from, f.stored, after = *snap, true, snap.Position-1
	}
	err := readStreamBetween(ctx, f.s, f.streamID, after, pos, func(events []domain.RecordedEvent) error {
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
	f.s.saveSnapshots(ctx, f.taken...)
	return foldedAt[A]{agg: agg, first: f.first, last: f.last}, true, nil
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
	if len(f.pending) < snapshotEvery {
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

// eventsAt returns the events of a stream at the given versions, taking
// those already read from have and fetching the others in one round trip.
func eventsAt(ctx context.Context, s *Service, streamID string, have []domain.RecordedEvent, versions ...int64) (map[int64]domain.RecordedEvent, error) {
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
		events, err := s.log.ReadStreamVersions(ctx, streamID, missing)
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

// loadAsOf folds a stream as it is now (maxPosition <= 0: the whole
// stream, as before) or as it was at maxPosition (from the nearest
// snapshot). A stream without events by then is the aggregate's own "not
// found".
func loadAsOf[A snapshotter](ctx context.Context, s *Service, streamID string, maxPosition int64,
	load func([]domain.RecordedEvent) (A, error),
	restore func(state []byte, version int64, rest []domain.RecordedEvent) (A, error),
) (A, error) {
	if maxPosition <= 0 {
		events, err := s.readStream(ctx, streamID, 0)
		if err != nil {
			var zero A
			return zero, err
		}
		return load(events)
	}
	f, found, err := foldAt(ctx, s, streamID, maxPosition, load, restore)
	if err != nil || !found {
		if err == nil {
			return load(nil)
		}
		return f.agg, err
	}
	return f.agg, nil
}

// readStreamBetween reads the events of a stream with a position in
// (afterPosition, untilPosition], oldest first, a page at a time. Each page
// is found by index probes, so the events outside the range cost nothing.
func readStreamBetween(ctx context.Context, s *Service, streamID string, afterPosition, untilPosition int64,
	visit func([]domain.RecordedEvent) error) error {
	for afterPosition < untilPosition {
		events, err := s.log.ReadStreamPositions(ctx, streamID, afterPosition, untilPosition, foldPage)
		if err != nil {
			return err
		}
		if err := visit(events); err != nil {
			return err
		}
		if len(events) < foldPage {
			return nil
		}
		afterPosition = events[len(events)-1].Position
	}
	return nil
}

// streamBetween is readStreamBetween collected.
func streamBetween(ctx context.Context, s *Service, streamID string, afterPosition, untilPosition int64) ([]domain.RecordedEvent, error) {
	var out []domain.RecordedEvent
	err := readStreamBetween(ctx, s, streamID, afterPosition, untilPosition, func(events []domain.RecordedEvent) error {
		out = append(out, events...)
		return nil
	})
	return out, err
}
