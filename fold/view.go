package fold

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/securevault/vault/domain"
)

// LogPages is what a View reads of the event store: pages of the whole log
// by position, each event's link verified before it is returned;
// *eventstore.Store satisfies it.
type LogPages interface {
	ReadAll(ctx context.Context, afterPosition int64, limit int) ([]domain.RecordedEvent, error)
}

// Tripped tells whether this replica's integrity latch has tripped;
// *integrity.Latch satisfies it.
type Tripped interface {
	Tripped() bool
}

// Kind is an aggregate a View keeps in memory, by stream.
type Kind struct {
	// Aggregate is the aggregate type (domain.UserAggregate…).
	Aggregate string
	// Fold folds one page's events of one stream into cur (nil for a stream
	// the view does not hold) and returns the aggregate to hold, or nil to
	// hold nothing: an aggregate that can never again matter, such as a
	// revoked session. Nil Fold: the view holds only the position of each
	// stream's last event (see PositionsOf).
	Fold func(cur any, events []domain.RecordedEvent) (any, error)
	// Prune, when set, tells which held aggregates can be let go as time
	// passes (an expired session); the view asks now and then.
	Prune func(agg any, now time.Time) bool
}

// KindOf is the Kind of an aggregate folded with load and restore. keep,
// when set, says whether a folded aggregate is worth holding (false drops
// it; later events of its stream are then ignored, so keep must be false
// only for aggregates no later event can make matter again).
func KindOf[A Aggregate](aggregate string, load LoadFunc[A], restore RestoreFunc[A], keep func(A) bool) Kind {
	return Kind{
		Aggregate: aggregate,
		Fold: func(cur any, events []domain.RecordedEvent) (any, error) {
			var (
				agg A
				err error
			)
			switch c := cur.(type) {
			case nil:
				if events[0].Version != 1 {
					// The stream was let go (see keep): nothing to hold.
					return nil, nil
				}
				agg, err = load(events)
			case A:
				// Aggregates are shared with readers and never changed in
				// place: the next state is restored from the current one.
				state, version, serr := c.Snapshot()
				if serr != nil {
					return nil, serr
				}
				agg, err = restore(state, version, events)
			default:
				return nil, fmt.Errorf("stream %s holds %T", events[0].StreamID, cur)
			}
			if err != nil {
				return nil, err
			}
			if keep != nil && !keep(agg) {
				return nil, nil
			}
			return agg, nil
		},
	}
}

// PositionsOf is a Kind whose streams the view does not fold: it only
// remembers the position of each one's last event (LastEventOf), a few
// dozen bytes a stream, so a reader can tell whether something it holds
// of a stream is still current without reading the log.
func PositionsOf(aggregate string) Kind {
	return Kind{Aggregate: aggregate}
}

// viewPage is how many events one read of the log takes.
const viewPage = 1000

// readTimeout bounds one read of the log by a view.
const readTimeout = 10 * time.Second

// View holds chosen aggregates of the log in memory, folded by the same
// domain code as Latest, and answers as of a position at least as new as
// the head of the log when it was asked (Read).
//
// How it knows it is not behind: it follows the log with reads of the
// page after its position ("rounds"). A round that returns a short page
// proves that no event past the page had committed when the read began
// (positions are gapless and commit in order). Read joins the next round
// that begins after it was called, so the answer includes everything
// committed before the call. Concurrent callers share one round, so the
// cost is one indexed read per round, not per request, and a view already
// at the head reads one row. Notifications and polling (Run) start rounds
// too, so a round a request joins rarely has events to apply.
//
// Every event is read through the event store's keyed-chain verification;
// a read that fails it trips the latch (the store does) and the view then
// refuses to answer for good: data failing integrity is never used.
type View struct {
	log    LogPages
	kinds  map[string]Kind
	latch  Tripped
	logger *slog.Logger
	now    func() time.Time

	mu       sync.RWMutex
	position int64
	held     map[string]any   // stream id -> aggregate
	last     map[string]int64 // stream id -> its last event, for PositionsOf kinds
	failed   map[string]error // stream id -> why its events did not fold
	broken   error            // set once a read failed its integrity check
	pruned   time.Time

	rounds   sync.Mutex
	next     *round
	running  bool
	notifyCh chan struct{}
}

// round is one catch-up read of the log and those waiting for it.
type round struct {
	done chan struct{}
	err  error
}

// NewView returns a view of kinds over log. latch may be nil.
func NewView(log LogPages, latch Tripped, logger *slog.Logger, kinds ...Kind) *View {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v := &View{
		log: log, latch: latch, logger: logger, now: time.Now,
		kinds: make(map[string]Kind, len(kinds)), held: map[string]any{}, last: map[string]int64{}, failed: map[string]error{},
		notifyCh: make(chan struct{}, 1),
	}
	for _, k := range kinds {
		v.kinds[k.Aggregate] = k
	}
	return v
}

// State is a View as of one position, valid only inside the Read callback
// it was given to.
type State struct {
	v *View
}

// Position is the log position the state is as of.
func (s State) Position() int64 { return s.v.position }

// Held is the aggregate of a stream the view holds, if any. A stream whose
// events did not fold is an error, never an answer.
func Held[A any](s State, streamID string) (A, bool, error) {
	var zero A
	if err, bad := s.v.failed[streamID]; bad {
		return zero, false, domain.WrapError(domain.EINTERNAL, "cannot read stream "+streamID, err)
	}
	agg, ok := s.v.held[streamID]
	if !ok {
		return zero, false, nil
	}
	a, ok := agg.(A)
	if !ok {
		return zero, false, domain.Errorf(domain.EINTERNAL, "stream %s holds %T", streamID, agg)
	}
	return a, true, nil
}

// Read calls fn with the view as of a position at least the head of the log
// when Read was called. fn runs under the view's read lock: it must not
// block, and must not keep the State.
func (v *View) Read(ctx context.Context, fn func(State) error) error {
	if err := v.refusal(); err != nil {
		return err
	}
	r := v.joinNextRound()
	select {
	case <-r.done:
	case <-ctx.Done():
		return domain.WrapError(domain.EUNAVAILABLE, "identity view not caught up", ctx.Err())
	}
	if r.err != nil {
		return r.err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if err := v.refusalLocked(); err != nil {
		return err
	}
	return fn(State{v: v})
}

// LastEventOf is the position of the last event of a stream of a
// PositionsOf kind (0: none) as of the view's position, when that is at
// least atLeast; ok is false when it is not yet, or when the view refuses
// to answer. It joins no round: a caller proves atLeast to be new enough
// (the position a Read answered at, which only moves forward).
func (v *View) LastEventOf(streamID string, atLeast int64) (last int64, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.position < atLeast || v.refusalLocked() != nil {
		return 0, false
	}
	return v.last[streamID], true
}

// Position is how far the view has applied the log.
func (v *View) Position() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.position
}

// Notify starts a round without waiting for it: the log has moved.
func (v *View) Notify() {
	select {
	case v.notifyCh <- struct{}{}:
	default:
	}
}

// Run follows the log until ctx ends: a round on every wake-up from
// notify (the vault_events notification) and every poll interval as a
// fallback, so Read seldom finds events to apply.
func (v *View) Run(ctx context.Context, notify <-chan struct{}, poll time.Duration) error {
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		r := v.joinNextRound()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil
		}
		if r.err != nil && ctx.Err() == nil {
			v.logger.WarnContext(ctx, "identity view could not follow the log", "error", r.err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-notify:
		case <-v.notifyCh:
		case <-t.C:
		}
	}
}

func (v *View) refusal() error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.refusalLocked()
}

func (v *View) refusalLocked() error {
	if v.broken != nil {
		return v.broken
	}
	if v.latch != nil && v.latch.Tripped() {
		return domain.Errorf(domain.EUNAVAILABLE, "the event log failed its integrity check; this replica refuses to serve from it until an operator acts")
	}
	return nil
}

// joinNextRound returns the round that begins after this call: one already
// reading may have missed what committed just before the call.
func (v *View) joinNextRound() *round {
	v.rounds.Lock()
	defer v.rounds.Unlock()
	if v.next == nil {
		v.next = &round{done: make(chan struct{})}
	}
	r := v.next
	if !v.running {
		v.running = true
		go v.runRounds()
	}
	return r
}

// runRounds runs rounds while anyone waits for one; rounds never overlap,
// so the log is applied in order.
func (v *View) runRounds() {
	for {
		v.rounds.Lock()
		r := v.next
		if r == nil {
			v.running = false
			v.rounds.Unlock()
			return
		}
		v.next = nil // whoever comes now waits for the round after this
		v.rounds.Unlock()
		r.err = v.catchUp()
		close(r.done)
	}
}

// catchUp reads and applies the log from the view's position until a page
// comes back short: the view is then at the head as of that read's start.
func (v *View) catchUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	for {
		if err := v.refusal(); err != nil {
			return err
		}
		events, err := v.log.ReadAll(ctx, v.Position(), viewPage)
		if err != nil {
			if domain.ErrorCode(err) == domain.EUNAVAILABLE && v.latch != nil && v.latch.Tripped() {
				v.mu.Lock()
				v.broken = err
				v.mu.Unlock()
			}
			return err
		}
		v.apply(events)
		if len(events) < viewPage {
			return nil
		}
	}
}

// apply folds a verified page into the view and moves its position.
func (v *View) apply(events []domain.RecordedEvent) {
	byStream := map[string][]domain.RecordedEvent{}
	var order []string
	last := map[string]int64{}
	for _, ev := range events {
		kind, tracked := v.kinds[domain.AggregateOf(ev.StreamID)]
		if !tracked {
			continue
		}
		if kind.Fold == nil {
			last[ev.StreamID] = ev.Position
			continue
		}
		if _, seen := byStream[ev.StreamID]; !seen {
			order = append(order, ev.StreamID)
		}
		byStream[ev.StreamID] = append(byStream[ev.StreamID], ev)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, position := range last {
		v.last[id] = position
	}
	for _, id := range order {
		if _, bad := v.failed[id]; bad {
			continue
		}
		kind := v.kinds[domain.AggregateOf(id)]
		next, err := kind.Fold(v.held[id], byStream[id])
		switch {
		case err != nil:
			v.logger.Error("identity view cannot fold a stream; it answers nothing for it", "stream_id", id, "error", err)
			v.failed[id] = err
			delete(v.held, id)
		case next == nil:
			delete(v.held, id)
		default:
			v.held[id] = next
		}
	}
	if len(events) > 0 {
		v.position = events[len(events)-1].Position
	}
	v.pruneLocked()
}

// pruneInterval is how often held aggregates are offered to their kind's
// Prune.
const pruneInterval = time.Minute

func (v *View) pruneLocked() {
	now := v.now()
	if now.Sub(v.pruned) < pruneInterval {
		return
	}
	v.pruned = now
	for id, agg := range v.held {
		if k := v.kinds[domain.AggregateOf(id)]; k.Prune != nil && k.Prune(agg, now) {
			delete(v.held, id)
		}
	}
}
