package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections/internal/projdb"
)

// Waiter gives read-your-writes: it waits until read models have applied a
// position a command reported. It reads the checkpoints table, so it sees
// progress made by any vaultd process.
type Waiter struct {
	pool    *pgxpool.Pool
	notify  Notifications
	queries *projdb.Queries
	poll    time.Duration
}

// NewWaiter returns a waiter. notify may be nil; poll is the fallback check
// interval (100ms when zero), which bounds the delay if a notification is
// lost or notify is nil.
func NewWaiter(pool *pgxpool.Pool, notify Notifications, poll time.Duration) *Waiter {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	return &Waiter{pool: pool, notify: notify, queries: projdb.New(), poll: poll}
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
	for {
		lagging, err := w.lagging(ctx, position, names)
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
		case <-wake:
		case <-poll.C:
		}
	}
}

// lagging describes each projection still below position.
func (w *Waiter) lagging(ctx context.Context, position int64, names []string) ([]string, error) {
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
	found := make(map[string]int64, len(rows))
	var lagging []string
	for _, row := range rows {
		found[row.Name] = row.Position
		if row.Position < position {
			lagging = append(lagging, fmt.Sprintf("%s at %d", row.Name, row.Position))
		}
	}
	for _, n := range names {
		if _, ok := found[n]; !ok {
			lagging = append(lagging, n+" not started")
		}
	}
	return lagging, nil
}
