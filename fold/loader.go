// Package fold loads aggregates from the event log, now or as of a past
// position: from the nearest usable snapshot plus the events after it, or
// from the start of the stream. It is the one place the write side
// (commands) and the read side (queries) share for folding streams, so both
// decide on state folded the same way.
//
// It also resolves who holds what (a user's roles to the policies in
// force), because the no-escalation checks of commands and the access
// checks and authentication of queries must agree on it exactly.
package fold

import (
	"context"
	"log/slog"

	"github.com/securevault/vault/domain"
)

// SnapshotEvery is how many events a fold may go past its newest snapshot
// before it stores a fresh one. Users grow by an event per login, sessions
// by one per refresh and secrets by one per rotation, so without snapshots
// every request would fold a whole history. Reads as of a past instant store
// them too (see At), so the store keeps a snapshot about every
// SnapshotEvery events of a long stream, by position.
const SnapshotEvery = 50

// page is how many events one read of a stream takes while folding it.
const page = 1000

// Log is what folding reads of the event store; *eventstore.Store
// satisfies it.
type Log interface {
	ReadStream(ctx context.Context, streamID string, afterVersion int64, limit int) ([]domain.RecordedEvent, error)
	// ReadStreamPositions reads the events of one stream with a position in
	// (afterPosition, maxPosition], at a cost that does not grow with the
	// events before afterPosition.
	ReadStreamPositions(ctx context.Context, streamID string, afterPosition, maxPosition int64, limit int) ([]domain.RecordedEvent, error)
	// ReadStreamVersions reads chosen events of one stream by version.
	ReadStreamVersions(ctx context.Context, streamID string, versions []int64) ([]domain.RecordedEvent, error)
}

// SnapshotStore caches folded aggregate state beside the log, at many
// positions of each stream; *eventstore.Store satisfies it. It is only a
// cache: any error or unusable snapshot falls back to folding the stream.
type SnapshotStore interface {
	// SnapshotAt is the newest snapshot of the stream in the layout at or
	// below maxPosition whose event the log still holds.
	SnapshotAt(ctx context.Context, streamID string, layout int, maxPosition int64) (domain.Snapshot, bool, error)
	SaveSnapshots(ctx context.Context, snaps ...domain.Snapshot) error
	// DeleteSnapshot removes one the domain could not restore, so a good
	// one can take its place.
	DeleteSnapshot(ctx context.Context, snap domain.Snapshot) error
}

// Aggregate is an aggregate that can be cached as a snapshot.
type Aggregate interface {
	StreamID() string
	Snapshot() ([]byte, int64, error)
}

// LoadFunc folds a stream's events from its start.
type LoadFunc[A Aggregate] func([]domain.RecordedEvent) (A, error)

// RestoreFunc restores a snapshot's state and folds the events after it.
type RestoreFunc[A Aggregate] func(state []byte, version int64, rest []domain.RecordedEvent) (A, error)

// Loader folds streams of one event log.
type Loader struct {
	log       Log
	snapshots SnapshotStore
	logger    *slog.Logger
}

// NewLoader returns a loader over log. Without snapshots every fold reads
// its stream from the start.
func NewLoader(log Log, snapshots SnapshotStore, logger *slog.Logger) *Loader {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Loader{log: log, snapshots: snapshots, logger: logger}
}

// ReadStream reads a whole stream, page by page.
func (l *Loader) ReadStream(ctx context.Context, streamID string) ([]domain.RecordedEvent, error) {
	return l.readStreamAfter(ctx, streamID, 0)
}

// readStreamAfter reads the events of a stream with version > after, page
// by page.
func (l *Loader) readStreamAfter(ctx context.Context, streamID string, after int64) ([]domain.RecordedEvent, error) {
	var all []domain.RecordedEvent
	for {
		events, err := l.log.ReadStream(ctx, streamID, after, page)
		if err != nil {
			return nil, err
		}
		all = append(all, events...)
		if len(events) < page {
			return all, nil
		}
		after = events[len(events)-1].Version
	}
}
