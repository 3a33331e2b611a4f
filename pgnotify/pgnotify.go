// Package pgnotify fans PostgreSQL LISTEN/NOTIFY out to in-process
// subscribers over one dedicated connection, so a process needs one
// listening connection however many components want to be woken.
//
// Two kinds of subscriber. Subscribe gives a wake-up only: the subscriber
// re-reads the truth from the tables each time. Listen gives the payloads
// too, for a subscriber that keeps what the payloads say instead of reading
// it (a checkpoint position, the head of the log), together with a loss
// signal: PostgreSQL does not queue notifications for a connection that is
// not listening, so whenever the listening connection drops or (re)issues
// LISTEN, every payload subscriber of that channel is told that it may have
// missed some and must read the truth again. A payload is delivered only
// after the transaction that sent it committed (NOTIFY's guarantee), and in
// commit order, so what it says is already visible to any later read.
package pgnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels the vault notifies on, with what their payloads say. A
// subscriber that trusts a payload must still read the truth when it is
// told it may have missed some (Subscription.Next), and should poll too,
// so a lost notification costs at most one poll interval.
const (
	// ChannelEvents: a batch of events committed; the payload is the
	// batch's last position, which is the head of the log as of that
	// commit (eventstore.NotifyChannel).
	ChannelEvents = "vault_events"
	// ChannelCheckpoints: a projection advanced its checkpoint; the payload
	// is "name:position" (the AdvanceCheckpoint query; an older vaultd sent
	// the name alone).
	ChannelCheckpoints = "vault_checkpoints"
)

// MaxPending bounds the payloads a Subscription holds between two calls to
// Next. Past it they are dropped and the subscriber is told it lost some,
// so a stalled subscriber costs memory once, not for ever.
const MaxPending = 4096

// Listener holds one connection that listens on the subscribed channels and
// reconnects with backoff when it drops.
type Listener struct {
	connString string
	logger     *slog.Logger

	mu       sync.Mutex
	subs     map[string]map[*Subscription]struct{}
	channels map[string]bool
	changed  chan struct{} // a new channel needs a LISTEN
}

// NewListener prepares a listener; Run does the work.
func NewListener(connString string, logger *slog.Logger) *Listener {
	return &Listener{
		connString: connString,
		logger:     logger,
		subs:       make(map[string]map[*Subscription]struct{}),
		channels:   make(map[string]bool),
		changed:    make(chan struct{}, 1),
	}
}

// Subscription is one subscriber's view of one channel: a coalescing
// wake-up (C) and, for a payload subscription (Listen), the payloads
// delivered since the last Next and whether some may have been lost.
type Subscription struct {
	l        *Listener
	channel  string
	payloads bool // keep payloads (Listen) or only wake (Subscribe)
	c        chan struct{}

	mu      sync.Mutex
	pending []string
	lost    bool
}

// Subscribe returns a channel that receives a value whenever channel is
// notified, and after every (re)connect of the listener (notifications sent
// while it was not listening are lost). Wake-ups coalesce: a slow subscriber
// sees one pending wake-up, never a backlog. cancel releases the
// subscription.
func (l *Listener) Subscribe(channel string) (wake <-chan struct{}, cancel func()) {
	s := l.add(channel, false)
	return s.c, s.Close
}

// Listen returns a payload subscription to channel. The subscriber must
// read the truth it keeps after Listen returns (whatever committed before
// may never be notified to it) and again whenever Next reports a loss;
// between those reads the payloads carry every commit's news, in commit
// order. Close releases it.
func (l *Listener) Listen(channel string) *Subscription {
	return l.add(channel, true)
}

func (l *Listener) add(channel string, payloads bool) *Subscription {
	s := &Subscription{l: l, channel: channel, payloads: payloads, c: make(chan struct{}, 1)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs[channel] == nil {
		l.subs[channel] = make(map[*Subscription]struct{})
	}
	l.subs[channel][s] = struct{}{}
	if !l.channels[channel] {
		l.channels[channel] = true
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
	return s
}

// C receives a value when there is something new to take with Next (or,
// for Subscribe, when the channel was notified). Values coalesce.
func (s *Subscription) C() <-chan struct{} { return s.c }

// Next takes the payloads delivered since the last call, in delivery
// (commit) order, and reports lost when notifications may have been missed
// since the last call: the listening connection dropped or (re)started
// listening, or more than MaxPending payloads piled up. After a loss the
// subscriber must read the truth again; the payloads returned with it are
// still true.
func (s *Subscription) Next() (payloads []string, lost bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	payloads, lost = s.pending, s.lost
	s.pending, s.lost = nil, false
	return payloads, lost
}

// Close releases the subscription.
func (s *Subscription) Close() {
	s.l.mu.Lock()
	delete(s.l.subs[s.channel], s)
	s.l.mu.Unlock()
}

func (s *Subscription) deliver(payload string, lost bool) {
	if s.payloads {
		s.mu.Lock()
		switch {
		case lost:
			s.lost = true
		case len(s.pending) >= MaxPending:
			s.pending, s.lost = nil, true
		default:
			s.pending = append(s.pending, payload)
		}
		s.mu.Unlock()
	}
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// Run listens until ctx ends. After every (re)connect all subscribers are
// woken, and payload subscribers told of a loss, because notifications sent
// while disconnected are lost.
func (l *Listener) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// Tell the payload subscribers now rather than at the reconnect, so
		// they stop trusting their view (and read) while it lasts.
		l.lostAll()
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
		l.deliver(n.Channel, n.Payload, false)
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
		l.deliver(ch, "", true)
	}
	return nil
}

func (l *Listener) deliver(channel, payload string, lost bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[channel] {
		s.deliver(payload, lost)
	}
}

func (l *Listener) lostAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, subs := range l.subs {
		for s := range subs {
			s.deliver("", true)
		}
	}
}

// Head follows the highest position announced on a channel whose payloads
// are positions of the log (ChannelEvents), so a subscriber that needs the
// head of the log only approximately-but-never-ahead (is a checkpoint due?
// how far behind is the relay?) need not read it per notification.
type Head struct {
	sub *Subscription

	mu       sync.Mutex
	position int64
	known    bool
}

// ListenHead returns a Head over a payload subscription to channel. It
// knows nothing until Observe is given a position read from the log.
func (l *Listener) ListenHead(channel string) *Head {
	return &Head{sub: l.Listen(channel)}
}

// C receives a value after each notification (coalesced), like
// Subscription.C.
func (h *Head) C() <-chan struct{} { return h.sub.c }

// Position is the highest position notified or observed, which the log's
// head is at or past. ok is false when it is not known: nothing observed
// yet, or notifications (or a payload that is not a position) may have been
// missed since; the caller then reads the head and calls Observe.
func (h *Head) Position() (position int64, ok bool) {
	payloads, lost := h.sub.Next()
	h.mu.Lock()
	defer h.mu.Unlock()
	if lost {
		h.known = false
	}
	for _, p := range payloads {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			h.known = false
			continue
		}
		h.position = max(h.position, n)
	}
	return h.position, h.known
}

// Observe records a head read from the log (a read that began after the
// loss that made Position unknown).
func (h *Head) Observe(position int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.position = max(h.position, position)
	h.known = true
}

// Close releases the subscription.
func (h *Head) Close() { h.sub.Close() }
