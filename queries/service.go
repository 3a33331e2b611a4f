// Package queries is the read side of the vault: every read the API serves,
// each checked where it runs (deny by default, a refusal recorded as an
// AccessDenied event), never only in HTTP.
//
// A read of the present comes from a read model (a projection's tables),
// after waiting, when the client asks, until that read model has applied a
// position it wrote (read-your-writes). A read as of a past instant is the
// same method given an instant (At): it folds the log up to that position
// with the domain code the commands use (package fold), so any secret, user,
// role or policy, and any access decision, can be shown as it was.
//
// Authentication is a read too: Authenticator folds a bearer token's
// session, user, roles and policies from the log, so a revocation is
// honoured the moment its event commits.
//
// queries and commands import domain, fold and access, never each other.
package queries

import (
	"context"
	"log/slog"
	"time"

	"github.com/securevault/vault/access"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// Log is what queries read of the event store: the streams time travel and
// authentication fold, the head of the log and its time index, and the one
// write a read makes, the AccessDenied record of a refusal.
// *eventstore.Store satisfies it.
type Log interface {
	access.Log
	fold.Log
	HeadPosition(ctx context.Context) (int64, error)
	PositionAt(ctx context.Context, t time.Time) (int64, error)
}

// ReadModelWaiter blocks until named read models have applied a position
// (the one declaration is fold's, which does the waiting).
type ReadModelWaiter = fold.ReadModelWaiter

// StreamCatalog enumerates the streams of one aggregate in stream id order;
// *projections/streams.Catalog satisfies it. The catalog only says which
// streams exist now; what each held at a past instant is always folded from
// the log.
type StreamCatalog interface {
	StreamIDs(ctx context.Context, aggregate, afterStreamID string, limit int) ([]string, error)
}

// Defaults of Options.
const (
	DefaultMinPositionTimeout = 5 * time.Second
	DefaultCatalogTimeout     = 2 * time.Second
)

// Options tune the Service. Zero values take the defaults.
type Options struct {
	// Snapshots, when set, lets long streams load from a snapshot plus the
	// events after it, now and as of any past instant.
	Snapshots fold.SnapshotStore
	// MinPositionTimeout bounds how long a read of the present waits for
	// its read model to reach the position the client asks for.
	MinPositionTimeout time.Duration
	// CatalogTimeout bounds how long a listing as of an instant waits for
	// the stream catalog to have applied that instant.
	CatalogTimeout time.Duration
	Now            func() time.Time
}

// Service holds what every query shares: the log and its folds, the
// access check, and the read models' progress.
type Service struct {
	log    Log
	fold   *fold.Loader
	access *access.Checker
	waiter ReadModelWaiter
	logger *slog.Logger
	opts   Options
}

// NewService returns the read side over log. Without a waiter (a test of
// one replica, or vaultctl) reads never wait for a read model.
func NewService(log Log, waiter ReadModelWaiter, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinPositionTimeout <= 0 {
		opts.MinPositionTimeout = DefaultMinPositionTimeout
	}
	if opts.CatalogTimeout <= 0 {
		opts.CatalogTimeout = DefaultCatalogTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{
		log: log, fold: fold.NewLoader(log, opts.Snapshots, logger), access: access.New(log, logger),
		waiter: waiter, logger: logger, opts: opts,
	}
}

// awaitReadModel waits, bounded, until the read model has applied what
// the request must see: every write committed before it began, and the
// client's minPosition (fold.AwaitReadModel). It returns the position the
// read model has applied (0: not known, there is no waiter).
func (s *Service) awaitReadModel(ctx context.Context, caller domain.Caller, minPosition int64, readModel string) (int64, error) {
	return fold.AwaitReadModel(ctx, s.log, s.waiter, caller.Principal.DecidedAt, minPosition, s.opts.MinPositionTimeout, readModel)
}

// pageLimit applies the default page size and the listing bound.
func pageLimit(limit, maxLimit int) (int, error) {
	switch {
	case limit == 0:
		return domain.DefaultListLimit, nil
	case limit < 0 || limit > maxLimit:
		return 0, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", maxLimit)
	}
	return limit, nil
}
