// Package commands is the write side of the vault: one file per command, each
// a small handler that authorizes the caller, loads aggregates from the event
// log, lets the domain decide, and appends the resulting events. Every read
// lives in package queries; the two share only domain, the aggregate loader
// (package fold) and the access check (package access).
//
// Authorization state (users, roles, policies, sessions) is folded from the
// event log, not read from projections, so a revoked permission or session
// takes effect on every replica the moment its event commits.
package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/securevault/vault/access"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// EventLog is what the handlers need of the event store: appends, and the
// reads that fold aggregates.
type EventLog interface {
	access.Log
	fold.Log
	fold.HeadReader
}

// ReadModelWaiter blocks until named read models have applied a position
// (the one declaration is fold's, which does the waiting).
type ReadModelWaiter = fold.ReadModelWaiter

// Written is what every successful command returns besides its own result:
// the last position it appended. A command answers as soon as its events
// are in the log; reads wait for their read model themselves (see
// fold.ReadPosition), so a query sent after a 2xx sees the write on every
// replica. Position is for clients that want to say so explicitly
// (X-Vault-Min-Position).
type Written struct {
	Position int64
	// RecordedAt is when the log stamped the events written (zero when
	// the append wrote none: nothing changed, or it was already stored).
	RecordedAt time.Time
}

// Options tune the Service.
type Options struct {
	// Snapshots, when set, lets long streams load from their newest
	// snapshot plus the events after it.
	Snapshots fold.SnapshotStore
	// ReadYourWritesTimeout bounds how long a command that reads a read
	// model (a batch reveal by prefix) waits for it to apply what committed
	// before the request began.
	ReadYourWritesTimeout time.Duration
	// CachedAggregates bounds the aggregates the handlers keep between
	// commands (0: defaultCachedAggregates, negative: none). A cached one
	// is a guess each command proves with its append's expected version,
	// or loads again (see fold.Cache).
	CachedAggregates int
	Now              func() time.Time
}

// defaultCachedAggregates is the default bound of the aggregate cache.
const defaultCachedAggregates = 10_000

// Service holds the dependencies every handler shares.
type Service struct {
	log    EventLog
	fold   *fold.Loader
	access *access.Checker
	waiter ReadModelWaiter
	logger *slog.Logger
	opts   Options
	cache  *fold.Cache // nil: no cache
}

// NewService returns the command side.
func NewService(log EventLog, waiter ReadModelWaiter, logger *slog.Logger, opts Options) *Service {
	if opts.ReadYourWritesTimeout <= 0 {
		opts.ReadYourWritesTimeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CachedAggregates == 0 {
		opts.CachedAggregates = defaultCachedAggregates
	}
	var cache *fold.Cache
	if opts.CachedAggregates > 0 {
		cache = fold.NewCache(opts.CachedAggregates)
	}
	return &Service{
		log: log, fold: fold.NewLoader(log, opts.Snapshots, logger), access: access.New(log, logger),
		waiter: waiter, logger: logger, opts: opts, cache: cache,
	}
}

// appendEvents appends atomically. It does not wait for the read models:
// every read of one waits until it has applied what committed before the
// read began (awaitReadModel, and the same rule in package queries).
func (s *Service) appendEvents(ctx context.Context, appends ...domain.StreamAppend) (Written, error) {
	res, err := s.log.AppendStreams(ctx, appends...)
	if err != nil {
		return Written{}, err
	}
	return Written{Position: res.LastPosition, RecordedAt: res.RecordedAt}, nil
}

// awaitReadModel waits, bounded, until the read model has applied every
// write committed before the caller's request began (fold.AwaitReadModel),
// for a command that reads a read model.
func (s *Service) awaitReadModel(ctx context.Context, caller domain.Caller, readModel string) error {
	_, err := fold.AwaitReadModel(ctx, s.log, s.waiter, caller.Principal.DecidedAt, 0, s.opts.ReadYourWritesTimeout, readModel)
	return err
}
