// Package projections keeps the read models up to date with the event log.
//
// Projections are catch-up readers of the PostgreSQL log, not JetStream
// consumers: read models keep working while NATS is down, and the log's
// gapless positions give them a total order for free. Each projection
// applies a page of events and moves its checkpoint in one transaction, so a
// page applied twice (a crash before the commit, a second vaultd, a replay)
// changes nothing.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/backoff"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/health"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections/internal/projdb"
)

// Projection turns events into a read model. Apply receives pages in
// position order with no gaps, each exactly once per read model state: the
// runner commits the page and the checkpoint together.
type Projection interface {
	// Name identifies the projection's checkpoint; it must never change.
	Name() string
	// Tables lists the read-model tables the projection owns. The runner
	// refuses to start when one is missing (a migration was not applied).
	Tables() []string
	// Apply writes a page of events inside tx. Pages are batches so a
	// projection can use multi-row upserts, pgx.Batch or COPY.
	Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error
	// Reset empties the read model inside tx, with DELETE rather than
	// TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE lock that would block every
	// reader for the whole rebuild, while after DELETE readers keep seeing the
	// old rows until the rebuild commits.
	Reset(ctx context.Context, tx pgx.Tx) error
}

// Selective is a projection that reads only the streams of some aggregates
// (its Apply ignores every other event). The runner skips pages holding
// none of them without a transaction, and the Waiter counts such a
// projection as caught up to a position when no event of its aggregates
// lies between its checkpoint and that position.
type Selective interface {
	Aggregates() []string
}

// skipFlush bounds how far a selective projection's stored checkpoint may
// trail the pages it skipped: past it the runner stores the checkpoint (a
// transaction with nothing to apply), so lag and readiness stay honest.
const skipFlush = 500

// EventReader is the part of the event store the runner needs.
type EventReader interface {
	// ReadAll returns up to limit events with position > afterPosition, in
	// position order, never skipping one.
	ReadAll(ctx context.Context, afterPosition int64, limit int) ([]domain.RecordedEvent, error)
	// HeadPosition is the position of the last committed event.
	HeadPosition(ctx context.Context) (int64, error)
}

// Notifications wakes subscribers when a PostgreSQL channel is notified;
// *pgnotify.Listener satisfies it. The runner only takes wake-ups (it
// re-reads the log); the Waiter also takes the checkpoint payloads
// (Listen), which are proof of a committed checkpoint.
type Notifications interface {
	Subscribe(channel string) (wake <-chan struct{}, cancel func())
	Listen(channel string) *pgnotify.Subscription
}

// Options tune a Runner. The zero value is usable.
type Options struct {
	// PageSize bounds the events one incremental transaction applies.
	PageSize int
	// RebuildPageSize bounds the events read and applied at once by Rebuild.
	RebuildPageSize int
	// PollInterval is how often a projection checks the log without a
	// notification; notifications make it a fallback only.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed page is
	// retried.
	MinBackoff, MaxBackoff time.Duration
	// StepTimeout bounds one incremental transaction.
	StepTimeout time.Duration
	// StuckAfter is how many pages in a row may fail before Check reports
	// the projection as stuck (default 5): a database blip costs one or
	// two, a poisonous event fails for ever.
	StuckAfter int
	// Registerer receives the runner's metrics when not nil.
	Registerer prometheus.Registerer
	// Alarm, when set, tells the runner that the log failed its integrity
	// check: failing pages are then expected (the reads refuse the bad
	// event) and already reported once, so they are not logged as errors
	// again on every retry.
	Alarm Alarm
}

// Alarm reports whether the replica found its event log tampered with;
// *integrity.Latch satisfies it.
type Alarm interface {
	Tripped() bool
}

func (o *Options) defaults() {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.RebuildPageSize <= 0 {
		o.RebuildPageSize = 5000
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
	if o.StuckAfter <= 0 {
		o.StuckAfter = 5
	}
}

// Runner applies the log to every registered projection.
//
// Several vaultd processes may run a Runner against one database. Leader
// election is per projection and per transaction: every page transaction
// first takes pg_try_advisory_xact_lock on the projection and then locks its
// checkpoint row FOR UPDATE. We chose this over a session-level advisory lock
// held on a dedicated connection because correctness then rests on the
// transaction alone: there is no connection per projection to keep alive,
// no window where a leader whose session silently died keeps writing, and a
// crashed process releases its lock the moment its transaction ends, so
// another process takes over on its next wake-up. The try-lock keeps
// followers from queueing behind the leader; the row lock plus "skip events
// at or below the checkpoint" is what guarantees no event is applied twice
// even if two transactions got past the try-lock in turn.
type Runner struct {
	pool        *pgxpool.Pool
	reader      EventReader
	notify      Notifications
	logger      *slog.Logger
	opts        Options
	queries     *projdb.Queries
	projections []Projection
	byName      map[string]Projection
	metrics     *metrics
	// health holds each projection's run of failed pages, by name; the map
	// is filled by NewRunner and only read afterwards.
	health map[string]*health.Streak
	// pages shares reads of the log among the projections.
	pages *pages
}

// NewRunner registers projections. notify may be nil: the runner then polls.
func NewRunner(pool *pgxpool.Pool, reader EventReader, notify Notifications, logger *slog.Logger, opts Options, projections ...Projection) (*Runner, error) {
	opts.defaults()
	r := &Runner{
		pool: pool, reader: reader, notify: notify, logger: logger, opts: opts,
		queries: projdb.New(), byName: make(map[string]Projection, len(projections)),
		health: make(map[string]*health.Streak, len(projections)),
		pages:  newPages(reader),
	}
	for _, p := range projections {
		name := p.Name()
		if name == "" {
			return nil, domain.Errorf(domain.EINVALID, "a projection has an empty name")
		}
		if _, dup := r.byName[name]; dup {
			return nil, domain.Errorf(domain.EINVALID, "projection %q is registered twice", name)
		}
		r.byName[name] = p
		r.health[name] = &health.Streak{}
		r.projections = append(r.projections, p)
	}
	m, err := newMetrics(r, opts.Registerer)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Run follows the log until ctx ends, one goroutine per projection. A page
// in flight when ctx ends is finished (or rolled back), so every projection
// stops at a clean checkpoint. Run fails at once if a projection's table is
// missing.
func (r *Runner) Run(ctx context.Context) error {
	for _, p := range r.projections {
		if err := r.prepare(ctx, p); err != nil {
			return err
		}
	}
	// One subscription for all projections: each wake-up starts a new
	// generation of shared reads (see pages) and wakes every projection.
	wakes := make([]chan struct{}, len(r.projections))
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
	}
	var wg sync.WaitGroup
	if r.notify != nil {
		notified, cancel := r.notify.Subscribe(pgnotify.ChannelEvents)
		defer cancel()
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-notified:
					r.pages.wake()
					for _, w := range wakes {
						select {
						case w <- struct{}{}:
						default:
						}
					}
				}
			}
		})
	}
	for i, p := range r.projections {
		wg.Go(func() { r.follow(ctx, p, wakes[i]) })
	}
	wg.Wait()
	return nil
}

func (r *Runner) prepare(ctx context.Context, p Projection) error {
	for _, table := range p.Tables() {
		ok, err := r.queries.TableExists(ctx, r.pool, table)
		if err != nil {
			return translate(fmt.Errorf("check table %s of projection %s: %w", table, p.Name(), err))
		}
		if !ok {
			return domain.Errorf(domain.EINTERNAL, "projection %s: table %s does not exist; are the migrations applied?", p.Name(), table)
		}
	}
	if err := r.queries.EnsureCheckpoint(ctx, r.pool, p.Name()); err != nil {
		return translate(fmt.Errorf("create checkpoint of projection %s: %w", p.Name(), err))
	}
	return nil
}

// follow applies pages to one projection until ctx ends. A failing page is
// retried with backoff and a shrinking page size, so the events before a
// poisonous one still get applied, but the checkpoint never moves past an
// event that was not applied: the projection stalls (visible as lag and in
// vault_projection_failures_total) instead of skipping.
func (r *Runner) follow(ctx context.Context, p Projection, wake <-chan struct{}) {
	name := p.Name()
	// want is the generation of shared reads this projection may use: one
	// that began after the wake-up (or poll) it is answering.
	want := r.pages.wake()
	poll := time.NewTicker(r.opts.PollInterval)
	defer poll.Stop()

	limit := r.opts.PageSize
	// checkpoint is where the projection has got to; stored is its row in
	// projection_checkpoints, behind checkpoint by the pages skipped since.
	checkpoint, stored := int64(-1), int64(-1) // unknown until the first step reads them
	retry := backoff.New(r.opts.MinBackoff, r.opts.MaxBackoff)
	streak := r.health[name]
	for ctx.Err() == nil {
		res, err := r.step(ctx, p, cursor{at: checkpoint, stored: stored}, limit, want)
		if err != nil {
			r.metrics.failures.WithLabelValues(name).Inc()
			streak.Fail(stepApply, err)
			delay := retry.Next()
			level := slog.LevelError
			if r.opts.Alarm != nil && r.opts.Alarm.Tripped() {
				level = slog.LevelDebug
			}
			r.logger.Log(ctx, level, "projection page failed; retrying", "projection", name, "error", err,
				"after_position", checkpoint, "page", limit, "failures", retry.Attempts(), "retry_in", delay)
			limit = max(1, limit/2)
			checkpoint, stored = -1, -1 // re-read: the failure may have been anywhere
			if !backoff.Sleep(ctx, delay) {
				return
			}
			want = r.pages.wake()
			continue
		}
		if retry.Attempts() > 0 {
			r.logger.Info("projection recovered", "projection", name, "failures", retry.Attempts(), "checkpoint", res.checkpoint)
		}
		retry.Reset()
		streak.Succeed()
		limit = r.opts.PageSize
		checkpoint, stored = res.checkpoint, res.stored
		if !res.caughtUp {
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
			want = r.pages.current()
		case <-poll.C:
			want = r.pages.wake()
		}
	}
}

type stepResult struct {
	checkpoint int64 // the checkpoint after the step
	stored     int64 // the stored checkpoint after the step
	caughtUp   bool  // nothing more to do until the log grows
}

// cursor is where a projection is (at) and where its stored checkpoint is
// (at or behind it by skipped pages); -1 when not known.
type cursor struct {
	at, stored int64
}

// step applies at most one page. The page is read before the transaction
// starts so the transaction never waits for a second pool connection (with
// many projections that could exhaust the pool); inside the transaction the
// locked checkpoint decides which of the events read are still to apply.
//
// The page comes from a read shared with the other projections (pages)
// that began at generation want or later.
func (r *Runner) step(ctx context.Context, p Projection, cur cursor, limit int, want uint64) (stepResult, error) {
	name := p.Name()
	// A page in flight is finished even when ctx ends: committing it is a
	// clean stop, and so is the rollback if the step timeout hits.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StepTimeout)
	defer cancel()

	if cur.at < 0 || cur.stored < 0 {
		cp, err := r.readCheckpoint(ctx, name)
		if err != nil {
			return stepResult{}, err
		}
		cur = cursor{at: cp, stored: cp}
	}
	knownCheckpoint := cur.at
	events, err := r.pages.read(ctx, knownCheckpoint, limit, want)
	if err != nil {
		return stepResult{}, fmt.Errorf("read log after %d: %w", knownCheckpoint, err)
	}
	if len(events) == 0 {
		return stepResult{checkpoint: knownCheckpoint, stored: cur.stored, caughtUp: true}, nil
	}
	if sel, ok := p.(Selective); ok && events[0].Position == knownCheckpoint+1 {
		last := events[len(events)-1].Position
		if !touches(events, sel.Aggregates()) && last-cur.stored < skipFlush {
			// Nothing to apply: move on without a transaction. The stored
			// checkpoint stays; the Waiter knows what lies between.
			return stepResult{checkpoint: last, stored: cur.stored, caughtUp: len(events) < limit}, nil
		}
	}

	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return stepResult{}, translate(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	locked, err := r.queries.LeadCheckpoint(ctx, tx, name)
	if err != nil {
		return stepResult{}, translate(fmt.Errorf("lock projection %s: %w", name, err))
	}
	if len(locked) == 0 {
		// Another process (or a rebuild) is applying this projection; it
		// notifies when it commits and our poll comes back regardless.
		return stepResult{checkpoint: -1, stored: -1, caughtUp: true}, nil
	}
	checkpoint := locked[0]
	if checkpoint == cur.stored && cur.at > cur.stored {
		// Nobody moved the stored checkpoint since this runner skipped the
		// pages after it, which held nothing to apply: continue from them.
		checkpoint = cur.at
	}
	if checkpoint < events[0].Position-1 {
		// The stored checkpoint moved elsewhere (another process, a
		// rebuild) to before what was read: read again from it.
		return stepResult{checkpoint: -1, stored: -1}, nil
	}
	pending := events
	for len(pending) > 0 && pending[0].Position <= checkpoint {
		pending = pending[1:] // already applied by another process or a rebuild
	}
	if len(pending) == 0 {
		return stepResult{checkpoint: checkpoint, stored: locked[0]}, nil
	}
	if err := contiguous(checkpoint, pending); err != nil {
		// Checkpoints only move forward and the log is gapless, so this is a
		// broken reader or a hand-edited checkpoint: refuse rather than skip.
		return stepResult{}, domain.WrapError(domain.EINTERNAL, "projection page does not continue its checkpoint", err)
	}
	if err := p.Apply(ctx, tx, pending); err != nil {
		return stepResult{}, fmt.Errorf("apply positions %d..%d: %w", pending[0].Position, pending[len(pending)-1].Position, err)
	}
	last := pending[len(pending)-1].Position
	if err := r.advance(ctx, tx, name, last); err != nil {
		return stepResult{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return stepResult{}, translate(fmt.Errorf("commit page of %s: %w", name, err))
	}
	r.metrics.applied.WithLabelValues(name).Add(float64(len(pending)))
	return stepResult{checkpoint: last, stored: last, caughtUp: len(events) < limit}, nil
}

// touches reports whether any event belongs to a stream of the aggregates.
func touches(events []domain.RecordedEvent, aggregates []string) bool {
	for _, ev := range events {
		for _, a := range aggregates {
			if ev.Aggregate() == a {
				return true
			}
		}
	}
	return false
}

// advance moves the checkpoint of name to position inside tx, which
// notifies "name:position" when tx commits. The query refuses to move a
// checkpoint back (the Waiter trusts every payload as a lower bound for
// ever), so a refusal means a broken caller or a hand-edited row: the page
// is rolled back rather than committed under a checkpoint that disagrees
// with it.
func (r *Runner) advance(ctx context.Context, tx pgx.Tx, name string, position int64) error {
	n, err := r.queries.AdvanceCheckpoint(ctx, tx, projdb.AdvanceCheckpointParams{Name: name, Position: position})
	if err != nil {
		return translate(fmt.Errorf("advance checkpoint of %s: %w", name, err))
	}
	if n != 1 {
		return domain.Errorf(domain.EINTERNAL, "the checkpoint of %s cannot move to %d: it is missing or already past it", name, position)
	}
	return nil
}

func (r *Runner) readCheckpoint(ctx context.Context, name string) (int64, error) {
	rows, err := r.queries.Checkpoints(ctx, r.pool, []string{name})
	if err != nil {
		return 0, translate(fmt.Errorf("read checkpoint of %s: %w", name, err))
	}
	if len(rows) == 0 {
		return 0, domain.Errorf(domain.EINTERNAL, "projection %s has no checkpoint row", name)
	}
	return rows[0].Position, nil
}

var errGap = errors.New("events are not contiguous with the checkpoint")

// contiguous checks that events continue the checkpoint without a gap. The
// log is gapless, so a gap means the page belongs to another checkpoint;
// applying it would skip events.
func contiguous(checkpoint int64, events []domain.RecordedEvent) error {
	for i, e := range events {
		if e.Position != checkpoint+1+int64(i) {
			return fmt.Errorf("%w: expected position %d, got %d", errGap, checkpoint+1+int64(i), e.Position)
		}
	}
	return nil
}
