package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// snapshotEvery is how many events a load may fold beyond its snapshot
// before it stores a fresh one. Users grow by an event per login, sessions
// by one per refresh and secrets by one per rotation, so without snapshots
// every request would fold a whole history.
const snapshotEvery = 50

// snapshotter is an aggregate that can be cached.
type snapshotter interface {
	Snapshot() ([]byte, int64, error)
}

// loadLatest folds the current state of a stream. A short stream is read
// in one round trip and folded; a stream of at least snapshotEvery events
// loads from its snapshot plus the events after it when there is a usable
// one, and refreshes the snapshot when the fold went snapshotEvery events
// past it. Only the current state is cached: time travel folds from the
// start.
func loadLatest[A snapshotter](ctx context.Context, s *Service, streamID string,
	load func([]domain.RecordedEvent) (A, error),
	restore func(state []byte, version int64, rest []domain.RecordedEvent) (A, error),
) (A, error) {
	agg, _, err := loadLatestAt(ctx, s, streamID, load, restore)
	return agg, err
}

// loadLatestAt is loadLatest that also reports the position of the
// stream's last event, or 0 when the state came from a snapshot with no
// event after it.
func loadLatestAt[A snapshotter](ctx context.Context, s *Service, streamID string,
	load func([]domain.RecordedEvent) (A, error),
	restore func(state []byte, version int64, rest []domain.RecordedEvent) (A, error),
) (A, int64, error) {
	var zero A
	head, err := s.log.ReadStream(ctx, streamID, 0, snapshotEvery)
	if err != nil {
		return zero, 0, err
	}
	if len(head) < snapshotEvery {
		agg, err := load(head)
		return agg, lastPosition(head), err
	}
	if s.opts.Snapshots != nil {
		state, version, ok, err := s.opts.Snapshots.LoadSnapshot(ctx, streamID)
		switch {
		case err != nil:
			s.logger.WarnContext(ctx, "snapshot unreadable; folding the stream", "stream_id", streamID, "error", err)
		case ok:
			rest, err := s.readStreamAfter(ctx, streamID, version, 0)
			if err != nil {
				return zero, 0, err
			}
			agg, err := restore(state, version, rest)
			if err == nil {
				s.maybeSnapshot(ctx, streamID, agg, len(rest))
				return agg, lastPosition(rest), nil
			}
			// A snapshot of an older state layout, for example.
			s.logger.InfoContext(ctx, "snapshot unusable; folding the stream", "stream_id", streamID, "error", err)
		}
	}
	rest, err := s.readStreamAfter(ctx, streamID, head[len(head)-1].Version, 0)
	if err != nil {
		return zero, 0, err
	}
	events := append(head, rest...)
	agg, err := load(events)
	if err != nil {
		return agg, 0, err
	}
	s.maybeSnapshot(ctx, streamID, agg, len(events))
	return agg, lastPosition(events), nil
}

func lastPosition(events []domain.RecordedEvent) int64 {
	if len(events) == 0 {
		return 0
	}
	return events[len(events)-1].Position
}

func (s *Service) maybeSnapshot(ctx context.Context, streamID string, agg snapshotter, folded int) {
	if s.opts.Snapshots == nil || folded < snapshotEvery {
		return
	}
	state, version, err := agg.Snapshot()
	if err != nil {
		s.logger.WarnContext(ctx, "cannot snapshot", "stream_id", streamID, "error", err)
		return
	}
	if err := s.opts.Snapshots.SaveSnapshot(ctx, streamID, state, version); err != nil {
		s.logger.WarnContext(ctx, "cannot save snapshot", "stream_id", streamID, "error", err)
	}
}
