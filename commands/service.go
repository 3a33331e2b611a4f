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
}

// ReadModelWaiter blocks until named projections have applied a position.
type ReadModelWaiter interface {
	WaitFor(ctx context.Context, position int64, timeout time.Duration, names ...string) error
}

// Written is what every successful command returns besides its own result:
// the last position it appended and whether the read models serving the
// resource have applied it (Pending: the bounded wait ran out, the client
// should pass Position as X-Vault-Min-Position).
type Written struct {
	Position int64
	Pending  bool
	// RecordedAt is when the log stamped the events written (zero when
	// the append wrote none: nothing changed, or it was already stored).
	RecordedAt time.Time
}

// Options tune the Service.
type Options struct {
	// Snapshots, when set, lets long streams load from their newest
	// snapshot plus the events after it.
	Snapshots fold.SnapshotStore
	// ReadYourWritesTimeout bounds how long a command waits for its read
	// models before answering "accepted, pending".
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

// appendAndWait appends atomically and then waits, bounded, until the named
// read models have applied the write, so a query sent after a 2xx sees it.
func (s *Service) appendAndWait(ctx context.Context, readModels []string, appends ...domain.StreamAppend) (Written, error) {
	return s.appendAndWaitWhile(ctx, readModels, nil, appends...)
}

// appendAndWaitWhile is appendAndWait that runs meanwhile (when not nil)
// once the append has committed, beside the wait for the read models, and
// returns when both are done: work that must follow the append but that
// the answer need not wait for twice.
func (s *Service) appendAndWaitWhile(ctx context.Context, readModels []string, meanwhile func(), appends ...domain.StreamAppend) (Written, error) {
	res, err := s.log.AppendStreams(ctx, appends...)
	if err != nil {
		return Written{}, err
	}
	if meanwhile != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			meanwhile()
		}()
		defer func() { <-done }()
	}
	w := Written{Position: res.LastPosition, RecordedAt: res.RecordedAt}
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
