// Package pgnotify fans PostgreSQL LISTEN/NOTIFY out to in-process
// subscribers over one dedicated connection, so a process needs one
// listening connection however many components want to be woken.
package pgnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels the vault notifies on. Notifications only wake readers up; the
// truth is always re-read from the tables, so a lost notification costs at
// most one poll interval.
const (
	ChannelEvents      = "vault_events"      // a batch of events committed
	ChannelCheckpoints = "vault_checkpoints" // a projection advanced its checkpoint
)

// Listener holds one connection that listens on the subscribed channels and
// reconnects with backoff when it drops.
type Listener struct {
	connString string
	logger     *slog.Logger

	mu       sync.Mutex
	subs     map[string]map[chan struct{}]struct{}
	channels map[string]bool
	changed  chan struct{} // a new channel needs a LISTEN
}

// NewListener prepares a listener; Run does the work.
func NewListener(connString string, logger *slog.Logger) *Listener {
	return &Listener{
		connString: connString,
		logger:     logger,
		subs:       make(map[string]map[chan struct{}]struct{}),
		channels:   make(map[string]bool),
		changed:    make(chan struct{}, 1),
	}
}

// Subscribe returns a channel that receives a value whenever channel is
// notified. Wake-ups coalesce: a slow subscriber sees one pending wake-up,
// never a backlog. cancel releases the subscription.
func (l *Listener) Subscribe(channel string) (wake <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	if l.subs[channel] == nil {
		l.subs[channel] = make(map[chan struct{}]struct{})
	}
	l.subs[channel][ch] = struct{}{}
	if !l.channels[channel] {
		l.channels[channel] = true
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs[channel], ch)
		l.mu.Unlock()
	}
}

// Run listens until ctx ends. After every (re)connect all subscribers are
// woken, because notifications sent while disconnected are lost.
func (l *Listener) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		l.logger.Warn("notification listener disconnected; reconnecting", "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (l *Listener) listen(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, l.connString)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	listening := make(map[string]bool)
	for {
		if err := l.listenAll(ctx, conn, listening); err != nil {
			return err
		}
		// Wait for a notification or for a new channel to listen on.
		waitCtx, cancel := context.WithCancel(ctx)
		stop := make(chan struct{})
		go func() {
			select {
			case <-l.changed:
				cancel()
			case <-stop:
			}
		}()
		n, err := conn.WaitForNotification(waitCtx)
		close(stop)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.Canceled) {
				continue // a new channel was subscribed; LISTEN to it
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		l.wake(n.Channel)
	}
}

func (l *Listener) listenAll(ctx context.Context, conn *pgx.Conn, listening map[string]bool) error {
	l.mu.Lock()
	var missing []string
	for ch := range l.channels {
		if !listening[ch] {
			missing = append(missing, ch)
		}
	}
	l.mu.Unlock()
	for _, ch := range missing {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
		listening[ch] = true
		// Anything notified before LISTEN took effect was missed.
		l.wake(ch)
	}
	return nil
}

func (l *Listener) wake(channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[channel] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
