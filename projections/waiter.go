package projections

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections/internal/projdb"
)

// Waiter gives read-your-writes: it waits until read models have applied a
// position a command reported. It follows the checkpoints table, so it sees
// progress made by any vaultd process.
//
// While Run is running, all waiters share one view of the checkpoints that
// Run keeps; otherwise every waiter queries on its own. Run reads every
// checkpoint (AllCheckpoints) when it starts, and after that keeps the view
// from the vault_checkpoints payloads ("name:position", sent by
// AdvanceCheckpoint) without reading. It reads again only when the payloads
// may not tell the whole story: the listener reports a loss (it reconnected,
// or a payload backlog overflowed), a payload it cannot parse (an older
// vaultd sends the name alone), a failed read to retry, and every poll
// interval, the fallback for a notification lost some other way.
//
// Why a payload is as good as a read, so WaitFor stays exact: PostgreSQL
// delivers a NOTIFY only after its transaction committed, and the payload
// names the position that transaction stored together with the read
// model's rows; and a checkpoint never moves back (AdvanceCheckpoint's
// guard; a rebuild moves it from where it was to the head, see Rebuild), so
// every value read or notified is a lower bound of the checkpoint for ever.
// The view keeps the highest value per name, from whichever source, and
// WaitFor returns only when that is at or past the position. A lost
// notification only leaves the view behind, which costs a wait, never a
// wrong answer. Every replica listens on its own connection, so a payload
// sent by any replica's runner reaches every replica's waiter.
type Waiter struct {
	pool    *pgxpool.Pool
	notify  Notifications
	queries *projdb.Queries
	poll    time.Duration

	// selective names the projections that read only some aggregates'
	// streams (see Selective), with those aggregates; set before use.
	selective map[string][]string

	mu      sync.Mutex
	shared  bool             // Run is keeping known fresh
	known   map[string]int64 // the highest checkpoint read or notified, by name; replaced, never changed in place
	changed chan struct{}    // closed after each change of known, then replaced
}

// NewWaiter returns a waiter. notify may be nil; poll is the fallback check
// interval (100ms when zero), which bounds the delay if a notification is
// lost or notify is nil.
func NewWaiter(pool *pgxpool.Pool, notify Notifications, poll time.Duration) *Waiter {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	return &Waiter{pool: pool, notify: notify, queries: projdb.New(), poll: poll, changed: make(chan struct{})}
}

// Selective tells the waiter which projections read only some aggregates'
// streams (Runner.Selective): such a projection counts as caught up to a
// position when no event of its aggregates lies between its stored
// checkpoint and that position, since it skips other pages without
// storing its checkpoint. Call it before the first WaitFor.
func (w *Waiter) Selective(aggregates map[string][]string) { w.selective = aggregates }

// Run keeps the shared view of the checkpoints until ctx ends: from the
// checkpoint payloads, and from a read at the start, after a loss of
// notifications or an unparseable payload, and every poll interval.
func (w *Waiter) Run(ctx context.Context) error {
	var sub *pgnotify.Subscription
	var wake <-chan struct{}
	if w.notify != nil {
		// Listen before the first read, so a checkpoint committed after that
		// read began is in a payload (or in a loss the listener reports).
		sub = w.notify.Listen(pgnotify.ChannelCheckpoints)
		defer sub.Close()
		wake = sub.C()
	}
	defer func() {
		w.mu.Lock()
		w.shared = false
		close(w.changed) // waiters re-check and fall back to their own queries
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}()
	poll := time.NewTicker(w.poll)
	defer poll.Stop()
	read := true
	for {
		if read {
			rows, err := w.queries.AllCheckpoints(ctx, w.pool)
			// On an error the waiters keep the last view and their
			// deadline; the next wake-up or poll reads again.
			read = err != nil
			if err == nil {
				seen := make(map[string]int64, len(rows))
				for _, row := range rows {
					seen[row.Name] = row.Position
				}
				w.learn(seen, true)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
			payloads, lost := sub.Next()
			seen, complete := parseCheckpoints(payloads)
			if lost || !complete {
				read = true
			}
			w.learn(seen, false)
		case <-poll.C:
			read = true
		}
	}
}

// learn merges checkpoints read (all of them, when full) or notified into
// the shared view, keeping the highest per name: every one is a lower
// bound of its checkpoint, since checkpoints never move back. The view is
// shared only once a full read made it complete: before, a name missing
// from it could make WaitFor without names return too early.
func (w *Waiter) learn(seen map[string]int64, full bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var known map[string]int64
	for name, position := range seen {
		if at, ok := w.known[name]; ok && at >= position {
			continue
		}
		if known == nil {
			known = make(map[string]int64, len(w.known)+len(seen))
			for n, at := range w.known {
				known[n] = at
			}
		}
		known[name] = position
	}
	if known == nil && (!full || w.shared) {
		return // nothing new
	}
	if known != nil {
		w.known = known // WaitFor may hold the old map: never change it in place
	}
	if full {
		w.shared = true
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// parseCheckpoints reads "name:position" payloads. complete is false when
// one did not parse (an older vaultd's bare name, or anything else): that
// commit's position is unknown and only a read can tell it.
func parseCheckpoints(payloads []string) (seen map[string]int64, complete bool) {
	complete = true
	for _, p := range payloads {
		i := strings.LastIndexByte(p, ':')
		if i <= 0 {
			complete = false
			continue
		}
		position, err := strconv.ParseInt(p[i+1:], 10, 64)
		if err != nil || position < 0 {
			complete = false
			continue
		}
		if seen == nil {
			seen = make(map[string]int64)
		}
		seen[p[:i]] = max(seen[p[:i]], position)
	}
	return seen, complete
}

// WaitFor returns nil once every named projection's checkpoint is at or past
// position (with no names: every projection that has a checkpoint). When
// timeout runs out first it returns an EUNAVAILABLE error naming what lags;
// when ctx ends first it returns ctx's error.
func (w *Waiter) WaitFor(ctx context.Context, position int64, timeout time.Duration, names ...string) error {
	if position <= 0 {
		return nil
	}
	// Most reads find their read models caught up already: answer those
	// from the shared view without subscribing or starting timers. The
	// loop below would return at its first check with the same view.
	w.mu.Lock()
	shared, known := w.shared, w.known
	w.mu.Unlock()
	if shared && len(laggingIn(known, position, names)) == 0 {
		return nil
	}
	// Subscribe before the first check, so a checkpoint committed between the
	// check and the wait still wakes us.
	var wake <-chan struct{}
	if w.notify != nil {
		ch, cancel := w.notify.Subscribe(pgnotify.ChannelCheckpoints)
		defer cancel()
		wake = ch
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(w.poll)
	defer poll.Stop()
	// A selective projection that lags is asked whether anything it reads
	// lies before position only when the wait has gone a while without it
	// catching up (idle), and once per checkpoint: a command waits for the
	// read models its own events touch, which catch up by applying them,
	// so asking at once would mostly cost a statement for nothing.
	idle := time.NewTicker(idleCheck)
	defer idle.Stop()
	mayAsk := false
	asked := map[string]int64{}
	for {
		w.mu.Lock()
		shared, known, changed := w.shared, w.known, w.changed
		w.mu.Unlock()
		if !shared {
			var err error
			if known, err = w.checkpoints(ctx, names); err != nil {
				return err
			}
		}
		lagging, err := w.stillLagging(ctx, known, position, names, mayAsk, asked)
		mayAsk = false
		if err != nil {
			return err
		}
		if len(lagging) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return domain.Errorf(domain.EUNAVAILABLE,
				"the read model has not caught up with position %d within %s (behind: %s); retry later",
				position, timeout, strings.Join(lagging, ", "))
		case <-changed:
		case <-wake:
		case <-poll.C:
		case <-idle.C:
			mayAsk = true
		}
	}
}

// idleCheck is how long a wait goes before it asks whether a lagging
// selective projection has anything of its own to apply before the
// position.
const idleCheck = 100 * time.Millisecond

// stillLagging describes the projections below position, leaving out
// selective ones with nothing of theirs before it.
func (w *Waiter) stillLagging(ctx context.Context, known map[string]int64, position int64, names []string, mayAsk bool, asked map[string]int64) ([]string, error) {
	lagging := laggingIn(known, position, names)
	var out []string
	if len(w.selective) == 0 {
		for _, l := range lagging {
			out = append(out, l.String())
		}
		return out, nil
	}
	for _, l := range lagging {
		name := l.name
		at, ok := known[name]
		aggregates, selective := w.selective[name]
		if !ok || !selective {
			out = append(out, l.String())
			continue
		}
		if done, ok := asked[name]; !mayAsk || ok && done == at {
			out = append(out, l.String())
			continue
		}
		asked[name] = at
		n, err := w.queries.EventsOfAggregatesBetween(ctx, w.pool, projdb.EventsOfAggregatesBetweenParams{After: at, UpTo: position, Aggregates: aggregates})
		if err != nil {
			return nil, translate(fmt.Errorf("read events after the checkpoint of %s: %w", name, err))
		}
		if n > 0 {
			out = append(out, l.String())
		}
	}
	return out, nil
}

// checkpoints reads the named projections' checkpoints (all with no names).
func (w *Waiter) checkpoints(ctx context.Context, names []string) (map[string]int64, error) {
	var rows []projdb.ProjectionCheckpoint
	var err error
	if len(names) == 0 {
		rows, err = w.queries.AllCheckpoints(ctx, w.pool)
	} else {
		rows, err = w.queries.Checkpoints(ctx, w.pool, names)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("read checkpoints: %w", err))
	}
	known := make(map[string]int64, len(rows))
	for _, row := range rows {
		known[row.Name] = row.Position
	}
	return known, nil
}

// lag is one projection below a position.
type lag struct {
	name    string
	at      int64
	started bool
}

func (l lag) String() string {
	if !l.started {
		return l.name + " not started"
	}
	return fmt.Sprintf("%s at %d", l.name, l.at)
}

// laggingIn lists each projection (the named ones, or all known) whose
// checkpoint is below position.
func laggingIn(known map[string]int64, position int64, names []string) []lag {
	var lagging []lag
	if len(names) == 0 {
		for name, at := range known {
			if at < position {
				lagging = append(lagging, lag{name: name, at: at, started: true})
			}
		}
		return lagging
	}
	for _, n := range names {
		at, ok := known[n]
		switch {
		case !ok:
			lagging = append(lagging, lag{name: n})
		case at < position:
			lagging = append(lagging, lag{name: n, at: at, started: true})
		}
	}
	return lagging
}
