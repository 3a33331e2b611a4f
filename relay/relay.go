// Package relay publishes the committed event log, in position order, to a
// NATS JetStream stream: the outbox relay.
//
// The log in PostgreSQL is the outbox. Appends never wait for NATS; the
// relay follows the log (woken by the vault_events notification, polling as
// a fallback) and publishes each event, redacted, with Nats-Msg-Id = event id.
//
// Ordering. Publishing is pipelined (PublishMsgAsync) because one round
// trip per event would cap the relay at a fraction of the append rate. A
// pipeline can lose a message in the middle (a rejected write, a dropped
// connection) while later ones still arrive, which would reorder the stream.
// So every message carries a JetStream expectation on the stream's state
// just before it (Nats-Expected-Last-Sequence): the first message after a
// (re)sync expects the stream's real last sequence, learned from the stream
// itself, and message i of a batch expects that sequence plus i.
//
// If message k is not stored, k+1 expects a sequence the stream never
// reached, so the server rejects k+1, and by induction everything after
// it: a gap can never be followed by a later event.
//
// Expected-last-sequence, not Nats-Expected-Last-Msg-Id (which this relay
// used first), because of how a clustered stream checks them. The stream
// leader checks the expected sequence before it proposes the message to its
// replicas, after de-duplication, so a message re-sent while it is stored
// already (after a reconnect flushed nats.go's buffer, or by a second relay
// during a leadership hand-over) gets a duplicate ack and the chain goes on.
// The expected message id, though, is checked by every replica on its own
// when it applies the message (nats-server 2.15, stream.go), and a rejection
// there moves each replica's count of failed sequences: a replica that was
// down while the pipeline had rejections came back with another count and
// stopped applying the stream for good (caught by
// TestJetStreamClusterLosesNoAcknowledgedEvent). On a single server the
// sequence is checked before de-duplication, so a re-sent stored message
// fails its batch instead; the re-sync below then starts after it.
//
// After any failure the relay stops, lets outstanding acks settle and
// re-syncs from the stream's last message, which is the truth about what
// was published (an ack can be lost after a store, and a NATS crash can
// lose a tail the relay saw acknowledged). The checkpoint table is written
// after acks, for lag reporting and for resuming when the stream is empty.
//
// Tampering. The stream is also a witness of the log outside PostgreSQL.
// On every (re)sync the stream's last event must be in the log at the
// position it was published with. A stream ahead of the log (its last
// position past the head, or another event at that position) means the log
// lost its tail, which is exactly what deleting the newest events and moving
// the head back looks like, or that the stream belongs to another log.
// Either way the relay never republishes over those positions: it trips the
// replica's integrity alarm, stops publishing, resigns and never campaigns
// again in this process, so the next replica's relay checks for itself.
//
// Leadership. Only one relay per stream publishes: the one holding a
// PostgreSQL session advisory lock on a dedicated connection. Followers try
// the lock periodically; PostgreSQL releases it when the leader's session
// ends, and the leader pings that connection before every batch and steps
// down if it is gone. In the window where an old leader has not yet noticed,
// two relays may publish at once; both publish the same events in the same
// order under the same expectations and message ids, so the stream still
// receives each event once, in order.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/backoff"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/health"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/relay/internal/relaydb"
)

// EventReader is the part of the event store the relay needs.
type EventReader interface {
	// ReadAll returns up to limit events with position > afterPosition, in
	// position order, never skipping one.
	ReadAll(ctx context.Context, afterPosition int64, limit int) ([]domain.RecordedEvent, error)
	// HeadPosition is the position of the last committed event.
	HeadPosition(ctx context.Context) (int64, error)
}

// Alarm latches the replica's "tampered" state; *integrity.Latch satisfies
// it.
type Alarm interface {
	Trip(position int64, reason string)
	Tripped() bool
}

// errTampered ends leadership for good: the log failed its integrity check.
var errTampered = errors.New("the event log failed its integrity check; the relay stops publishing")

// Notifications wakes the relay on every append and tells it the head of
// the log the append committed (the vault_events payload), which is what
// the lag metric needs; *pgnotify.Listener satisfies it.
type Notifications interface {
	ListenHead(channel string) *pgnotify.Head
}

// Relay publishes the event log to JetStream. Run does the work.
type Relay struct {
	pool    *pgxpool.Pool
	events  EventReader
	js      jetstream.JetStream
	notify  Notifications
	logger  *slog.Logger
	cfg     Config
	queries *relaydb.Queries
	metrics *metrics

	mu        sync.Mutex
	leader    bool
	published int64 // meaningful while leader

	// stopped is set once the relay met a tampered log without an alarm
	// to latch.
	stopped atomic.Bool
	// health is the leader's run of failed attempts to publish.
	health health.Streak
}

// tampered reports whether publishing must stop for good.
func (r *Relay) tampered() bool {
	return r.stopped.Load() || (r.cfg.Alarm != nil && r.cfg.Alarm.Tripped())
}

// Status is a relay's view of its progress.
type Status struct {
	Stream    string `json:"stream"`
	Leader    bool   `json:"leader"`
	Published int64  `json:"published_position"`
	Head      int64  `json:"head_position"`
	Lag       int64  `json:"lag"`
}

// New prepares a relay. pool holds the checkpoint table and the leader lock
// (the leader keeps one of its connections); notify may be nil (polling
// only); reg may be nil.
func New(pool *pgxpool.Pool, events EventReader, nc *nats.Conn, notify Notifications, logger *slog.Logger, reg prometheus.Registerer, cfg Config) (*Relay, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout),
		jetstream.WithPublishAsyncMaxPending(2*cfg.BatchSize),
	)
	if err != nil {
		return nil, fmt.Errorf("relay: jetstream context: %w", err)
	}
	m, err := newMetrics(reg, cfg.Stream)
	if err != nil {
		return nil, err
	}
	return &Relay{
		pool:    pool,
		events:  events,
		js:      js,
		notify:  notify,
		logger:  logger.With("component", "relay", "stream", cfg.Stream),
		cfg:     cfg,
		queries: relaydb.New(),
		metrics: m,
	}, nil
}

// Run relays until ctx is cancelled, then lets the batch in flight be
// acknowledged, writes the checkpoint, releases leadership and returns nil.
// NATS or PostgreSQL failures are retried with backoff, never returned.
func (r *Relay) Run(ctx context.Context) error {
	var wake <-chan struct{}
	heads := &headSource{events: r.events}
	if r.notify != nil {
		heads.notified = r.notify.ListenHead(pgnotify.ChannelEvents)
		defer heads.notified.Close()
		wake = heads.notified.C()
	}
	for {
		if r.tampered() {
			r.logger.Warn("relay stopped: the event log failed its integrity check; nothing more is published until vaultd restarts")
			<-ctx.Done()
			return nil
		}
		lock, err := r.campaign(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.logger.Warn("relay could not try for leadership", "error", err)
		}
		if lock == nil {
			r.followerTick(ctx, heads)
			if !backoff.Sleep(ctx, backoff.Jitter(r.cfg.LeaderRetry)) {
				return nil
			}
			continue
		}
		r.logger.Info("relay is the leader")
		err = r.lead(ctx, lock, wake, heads)
		r.resign(ctx, lock)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errTampered) {
			r.stopped.Store(true)
			continue
		}
		r.logger.Warn("relay stepped down", "error", err)
		if !backoff.Sleep(ctx, backoff.Jitter(r.cfg.LeaderRetry)) {
			return nil
		}
	}
}

// Status reports the published position and the lag behind the log's head.
// A follower reports the leader's last checkpoint.
func (r *Relay) Status(ctx context.Context) (Status, error) {
	head, err := r.events.HeadPosition(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("relay status: %w", err)
	}
	r.mu.Lock()
	leader, published := r.leader, r.published
	r.mu.Unlock()
	if !leader {
		if published, err = r.checkpoint(ctx); err != nil {
			return Status{}, err
		}
	}
	return Status{Stream: r.cfg.Stream, Leader: leader, Published: published, Head: head, Lag: max(head-published, 0)}, nil
}

// campaign returns the connection holding the leader lock, or nil when
// another relay holds it.
func (r *Relay) campaign(ctx context.Context) (*pgxpool.Conn, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire leader connection: %w", err)
	}
	locked, err := r.queries.TryRelayLock(ctx, conn, r.cfg.Stream)
	if err != nil || !locked {
		conn.Release()
		if err != nil {
			return nil, fmt.Errorf("try leader lock: %w", err)
		}
		return nil, nil
	}
	return conn, nil
}

// resign gives the lock back. If that fails the session is closed, which
// releases the lock too.
func (r *Relay) resign(ctx context.Context, lock *pgxpool.Conn) {
	r.setLeader(false, 0)
	r.health.Succeed() // a follower's failures are its next leader's to report
	r.metrics.leader.Set(0)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout)
	defer cancel()
	if _, err := r.queries.ReleaseRelayLock(cctx, lock, r.cfg.Stream); err != nil {
		_ = lock.Conn().Close(cctx)
	}
	lock.Release()
}

// followerTick keeps a follower's lag metric meaningful.
func (r *Relay) followerTick(ctx context.Context, heads *headSource) {
	published, err := r.checkpoint(ctx)
	if err != nil {
		return
	}
	r.observeLag(ctx, heads, published)
}

// cursor is the leader's knowledge of the stream's tail.
type cursor struct {
	published int64  // position of the stream's last event
	lastMsgID string // its message id; "" when the stream is empty
	lastSeq   uint64 // the stream's last sequence
}

func (r *Relay) lead(ctx context.Context, lock *pgxpool.Conn, wake <-chan struct{}, heads *headSource) error {
	r.metrics.leader.Set(1)
	var cur cursor
	synced := false
	retry := backoff.New(backoff.DefaultInitial, r.cfg.MaxBackoff)
	// failed records a failure of step and waits before the retry; it
	// reports whether ctx is still live.
	failed := func(step string, err error) bool {
		r.health.Fail(step, err)
		r.logger.Warn("relay cannot "+step+"; retrying", "error", err, "published", cur.published, "attempts", retry.Attempts()+1)
		return retry.Wait(ctx)
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		if r.tampered() {
			return errTampered
		}
		if err := lock.Ping(ctx); err != nil {
			return fmt.Errorf("leader connection lost: %w", err)
		}
		if !synced {
			if err := r.sync(ctx, &cur); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, errTampered) {
					return err
				}
				r.metrics.errors.Inc()
				if !failed(stepReachStream, err) {
					return nil
				}
				continue
			}
			synced = true
			r.setLeader(true, cur.published)
		}
		events, err := r.nextBatch(ctx, cur)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errTampered) || r.tampered() {
				return errTampered
			}
			if !failed(stepReadLog, err) {
				return nil
			}
			continue
		}
		if len(events) == 0 {
			r.health.Succeed()
			retry.Reset()
			r.observeLag(ctx, heads, cur.published)
			r.wait(ctx, wake)
			continue
		}
		n, err := r.publish(ctx, &cur, events)
		if n > 0 {
			r.setLeader(true, cur.published)
			r.metrics.published.Add(float64(n))
			r.saveCheckpoint(ctx, cur.published)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.metrics.errors.Inc()
			// Re-sync from the stream: it, not cur, is the truth about what
			// was stored.
			synced = false
			if !failed(stepPublish, err) {
				return nil
			}
			continue
		}
		r.health.Succeed()
		retry.Reset()
		r.observeLag(ctx, heads, cur.published)
	}
}

func (r *Relay) checkpoint(ctx context.Context) (int64, error) {
	p, err := r.queries.RelayCheckpoint(ctx, r.pool, r.cfg.Stream)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, domain.WrapError(domain.EUNAVAILABLE, "the relay checkpoint cannot be read", err)
	}
	return p, nil
}

// saveCheckpoint is best effort: the stream, not this row, is the truth
// about what was published. It runs even while shutting down, so a SIGTERM
// leaves a checkpoint that matches the stream.
func (r *Relay) saveCheckpoint(ctx context.Context, position int64) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout)
	defer cancel()
	err := r.queries.SaveRelayCheckpoint(cctx, r.pool, relaydb.SaveRelayCheckpointParams{Name: r.cfg.Stream, Position: position})
	if err != nil {
		r.logger.Warn("relay checkpoint not saved", "error", err, "position", position)
	}
}

// observeLag sets the lag metric after each batch and each idle check, from
// the head the appends notified: no statement on the hot path.
func (r *Relay) observeLag(ctx context.Context, heads *headSource, published int64) {
	head, ok := heads.head(ctx, time.Now())
	if !ok {
		return
	}
	r.metrics.lag.Set(float64(max(head-published, 0)))
}

// headRead bounds how often the lag metric reads the head when the
// notified one is unknown (no listener, the start, a loss of
// notifications).
const headRead = time.Second

// headSource is where the lag metric takes the head of the log from, owned
// by Run's goroutine: the highest position the appends notified (never
// past the real head, so the lag shown is never too small by more than
// the events not yet notified), or a read of the head at most once per
// headRead when that is unknown. Status, which readiness and the status
// endpoint call (never a request), still reads the head itself.
type headSource struct {
	events   EventReader
	notified *pgnotify.Head // nil without notifications
	read     time.Time      // the last read of the head
}

func (h *headSource) head(ctx context.Context, now time.Time) (int64, bool) {
	if h.notified != nil {
		if at, ok := h.notified.Position(); ok {
			return at, true
		}
	}
	if !h.read.IsZero() && now.Sub(h.read) < headRead {
		return 0, false // the metric keeps its last value meanwhile
	}
	h.read = now
	at, err := h.events.HeadPosition(ctx)
	if err != nil {
		return 0, false
	}
	if h.notified != nil {
		h.notified.Observe(at)
	}
	return at, true
}

func (r *Relay) setLeader(leader bool, published int64) {
	r.mu.Lock()
	r.leader, r.published = leader, published
	r.mu.Unlock()
}

func (r *Relay) wait(ctx context.Context, wake <-chan struct{}) {
	t := time.NewTimer(r.cfg.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}
