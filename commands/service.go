// Package commands is the write side of the vault: one file per command, each
// a small handler that authorizes the caller, loads aggregates from the event
// log, lets the domain decide, and appends the resulting events.
//
// Authorization state (users, roles, policies, sessions) is folded from the
// event log, not read from projections, so a revoked permission or session
// takes effect on every replica the moment its event commits.
package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/securevault/vault/domain"
)

// EventLog is what the handlers need of the event store.
type EventLog interface {
	AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error)
	ReadStream(ctx context.Context, streamID string, afterVersion int64, limit int) ([]domain.RecordedEvent, error)
	ReadStreamUntil(ctx context.Context, streamID string, afterVersion, maxPosition int64, limit int) ([]domain.RecordedEvent, error)
	// ReadStreamPositions reads the events of one stream with a position in
	// (afterPosition, maxPosition], at a cost that does not grow with the
	// events before afterPosition.
	ReadStreamPositions(ctx context.Context, streamID string, afterPosition, maxPosition int64, limit int) ([]domain.RecordedEvent, error)
	// ReadStreamVersions reads chosen events of one stream by version.
	ReadStreamVersions(ctx context.Context, streamID string, versions []int64) ([]domain.RecordedEvent, error)
	HeadPosition(ctx context.Context) (int64, error)
	PositionAt(ctx context.Context, t time.Time) (int64, error)
}

// ReadModelWaiter blocks until named projections have applied a position.
type ReadModelWaiter interface {
	WaitFor(ctx context.Context, position int64, timeout time.Duration, names ...string) error
}

// Caller is who sends a command and from where. Every event a command
// appends carries it as metadata, which is what the audit log shows.
type Caller struct {
	Principal     Principal
	ClientIP      string
	UserAgent     string
	RequestID     string
	CorrelationID string
}

// Metadata stamps events appended on the caller's behalf.
func (c Caller) Metadata() domain.Metadata {
	actor := c.Principal.UserID
	if actor == "" {
		actor = "anonymous"
	}
	return domain.Metadata{
		Actor:         actor,
		ActorName:     c.Principal.Username,
		ClientIP:      c.ClientIP,
		UserAgent:     c.UserAgent,
		RequestID:     c.RequestID,
		CorrelationID: c.CorrelationID,
		CausationID:   c.RequestID,
	}
}

// Principal is an authenticated user with the policies in force for it.
type Principal struct {
	UserID    string
	Username  string
	SessionID string
	Policies  []domain.PolicyView
}

// Authenticated reports whether the principal came from a valid session.
func (p Principal) Authenticated() bool { return p.UserID != "" }

// Written is what every successful command returns besides its own result:
// the last position it appended and whether the read models serving the
// resource have applied it (Pending: the bounded wait ran out, the client
// should pass Position as X-Vault-Min-Position).
type Written struct {
	Position int64
	Pending  bool
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

// Options tune the Service.
type Options struct {
	// Snapshots, when set, lets long streams load from a snapshot plus the
	// events after it, now and as of any past instant.
	Snapshots SnapshotStore
	// ReadYourWritesTimeout bounds how long a command waits for its read
	// models before answering "accepted, pending".
	ReadYourWritesTimeout time.Duration
	Now                   func() time.Time
}

// Service holds the dependencies every handler shares.
type Service struct {
	log    EventLog
	waiter ReadModelWaiter
	logger *slog.Logger
	opts   Options
}

// NewService returns the command side.
func NewService(log EventLog, waiter ReadModelWaiter, logger *slog.Logger, opts Options) *Service {
	if opts.ReadYourWritesTimeout <= 0 {
		opts.ReadYourWritesTimeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{log: log, waiter: waiter, logger: logger, opts: opts}
}

// appendAndWait appends atomically and then waits, bounded, until the named
// read models have applied the write, so a query sent after a 2xx sees it.
func (s *Service) appendAndWait(ctx context.Context, readModels []string, appends ...domain.StreamAppend) (Written, error) {
	res, err := s.log.AppendStreams(ctx, appends...)
	if err != nil {
		return Written{}, err
	}
	w := Written{Position: res.LastPosition}
	if len(readModels) == 0 || s.waiter == nil {
		return w, nil
	}
	if err := s.waiter.WaitFor(ctx, res.LastPosition, s.opts.ReadYourWritesTimeout, readModels...); err != nil {
		if domain.ErrorCode(err) != domain.EUNAVAILABLE {
			return w, err
		}
		w.Pending = true
	}
	return w, nil
}

// readStream reads a whole stream, page by page.
func (s *Service) readStream(ctx context.Context, streamID string, maxPosition int64) ([]domain.RecordedEvent, error) {
	return s.readStreamAfter(ctx, streamID, 0, maxPosition)
}

// readStreamAfter reads the events of a stream with version > after (and
// position <= maxPosition when maxPosition > 0), page by page.
func (s *Service) readStreamAfter(ctx context.Context, streamID string, after, maxPosition int64) ([]domain.RecordedEvent, error) {
	const page = 1000
	var all []domain.RecordedEvent
	for {
		var (
			events []domain.RecordedEvent
			err    error
		)
		if maxPosition > 0 {
			events, err = s.log.ReadStreamUntil(ctx, streamID, after, maxPosition, page)
		} else {
			events, err = s.log.ReadStream(ctx, streamID, after, page)
		}
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
