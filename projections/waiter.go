package projections

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections/internal/projdb"
)

// Waiter gives read-your-writes: it waits until read models have applied a
// position a command reported. It reads the checkpoints table, so it sees
// progress made by any vaultd process.
//
// While Run is running, all waiters share one view of the checkpoints that
// Run refreshes once per checkpoint notification; otherwise every waiter
// queries on its own. The shared view matters under load: each commit of
// each projection notifies, and N concurrent waiters would otherwise cost N
// queries per notification.
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
	known   map[string]int64 // checkpoints as of the last refresh
	changed chan struct{}    // closed after each refresh, then replaced
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

// Run refreshes the shared view of the checkpoints on every checkpoint
// notification (and every poll interval) until ctx ends.
func (w *Waiter) Run(ctx context.Context) error {
	var wake <-chan struct{}
	if w.notify != nil {
		ch, cancel := w.notify.Subscribe(pgnotify.ChannelCheckpoints)
		defer cancel()
		wake = ch
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
	for {
		rows, err := w.queries.AllCheckpoints(ctx, w.pool)
		if err == nil {
			known := make(map[string]int64, len(rows))
			for _, row := range rows {
				known[row.Name] = row.Position
			}
			w.mu.Lock()
			w.shared, w.known = true, known
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
		// On an error the waiters keep the last view and their deadline.
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
	}
}

// WaitFor returns nil once every named projection's checkpoint is at or past
// position (with no names: every projection that has a checkpoint). When
// timeout runs out first it returns an EUNAVAILABLE error naming what lags;
// when ctx ends first it returns ctx's error.
func (w *Waiter) WaitFor(ctx context.Context, position int64, timeout time.Duration, names ...string) error {
	if position <= 0 {
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
