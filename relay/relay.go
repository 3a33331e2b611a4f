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
// just before it:
//
//   - the first message after a (re)sync expects the stream's real last
//     message id, learned from the stream itself (or, when the stream is
//     empty, its last sequence);
//   - every following message expects the previous event's id
//     (Nats-Expected-Last-Msg-Id).
//
// If message k is not stored, k+1 expects id(k) while the stream ends at
// id(k-1), so the server rejects k+1, and by induction everything after it:
// a gap can never be followed by a later event. Expected-last-msg-id rather
// than expected-last-sequence because the server checks the sequence before
// de-duplication and the message id after it: a message that is re-sent
// while it is already stored (after a reconnect flushed nats.go's buffer, or
// by a second relay during a leadership hand-over) gets a duplicate ack and
// the chain continues, instead of failing the whole batch.
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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/relay/internal/relaydb"
)

// Message headers, beside Nats-Msg-Id (the event id).
const (
	HeaderPosition      = "Vault-Position"
	HeaderStream        = "Vault-Stream"
	HeaderVersion       = "Vault-Version"
	HeaderType          = "Vault-Type"
	HeaderSchemaVersion = "Vault-Schema-Version"
)

// Defaults for Config.
const (
	DefaultStream          = "VAULT_EVENTS"
	DefaultSubjectPrefix   = "vault.events"
	DefaultBatchSize       = 500
	DefaultPollInterval    = time.Second
	DefaultLeaderRetry     = 2 * time.Second
	DefaultPublishTimeout  = 5 * time.Second
	DefaultMaxBackoff      = 10 * time.Second
	DefaultDuplicateWindow = 5 * time.Minute
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

// Notifications wakes subscribers when a PostgreSQL channel is notified;
// *pgnotify.Listener satisfies it.
type Notifications interface {
	Subscribe(channel string) (wake <-chan struct{}, cancel func())
}

// Config tunes a Relay. Zero values take the defaults.
type Config struct {
	// Stream is the JetStream stream name. It also names the relay's
	// checkpoint and leader lock, so relays of different streams are
	// independent.
	Stream string
	// SubjectPrefix is prepended to <aggregate>.<EventType>; the stream
	// captures <prefix>.>.
	SubjectPrefix string
	// BatchSize is how many events are read and pipelined at once.
	BatchSize int
	// PollInterval is how often the log is checked without a notification.
	PollInterval time.Duration
	// LeaderRetry is how often a follower tries to become the leader.
	LeaderRetry time.Duration
	// PublishTimeout bounds the wait for one acknowledgement and for each
	// JetStream API call.
	PublishTimeout time.Duration
	// MaxBackoff caps the wait between retries while NATS is failing.
	MaxBackoff time.Duration
	// DuplicateWindow is the stream's de-duplication window. The server
	// keeps every message id of the window in memory, so it is minutes,
	// not hours.
	DuplicateWindow time.Duration
	// Replicas of the stream when the relay creates it (1 for a single
	// server); afterwards replicas, retention and limits are the operator's.
	Replicas int
	// Alarm, when set, is tripped when the stream is ahead of the log and
	// consulted before every batch: once tripped, nothing is published.
	Alarm Alarm
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.LeaderRetry <= 0 {
		c.LeaderRetry = DefaultLeaderRetry
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	return c
}

func (c Config) validate() error {
	if strings.ContainsAny(c.Stream, ". *>\t\r\n/\\") {
		return domain.Errorf(domain.EINVALID, "relay stream name %q may not contain '.', '*', '>', slashes or whitespace", c.Stream)
	}
	for _, tok := range strings.Split(c.SubjectPrefix, ".") {
		if tok == "" || strings.ContainsAny(tok, " *>\t\r\n") {
			return domain.Errorf(domain.EINVALID, "relay subject prefix %q is not a valid NATS subject", c.SubjectPrefix)
		}
	}
	return nil
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

	// stopped is set (by Run's goroutine only) once the relay met a
	// tampered log without an alarm to latch.
	stopped bool
}

// tampered reports whether publishing must stop for good.
func (r *Relay) tampered() bool {
	return r.stopped || (r.cfg.Alarm != nil && r.cfg.Alarm.Tripped())
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
	if r.notify != nil {
		w, cancel := r.notify.Subscribe(pgnotify.ChannelEvents)
		defer cancel()
		wake = w
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
			r.followerTick(ctx)
			if !sleep(ctx, jitter(r.cfg.LeaderRetry)) {
				return nil
			}
			continue
		}
		r.logger.Info("relay is the leader")
		err = r.lead(ctx, lock, wake)
		r.resign(ctx, lock)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errTampered) {
			r.stopped = true
			continue
		}
		r.logger.Warn("relay stepped down", "error", err)
		if !sleep(ctx, jitter(r.cfg.LeaderRetry)) {
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
	r.metrics.leader.Set(0)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout)
	defer cancel()
	if _, err := r.queries.ReleaseRelayLock(cctx, lock, r.cfg.Stream); err != nil {
		_ = lock.Conn().Close(cctx)
	}
	lock.Release()
}

// followerTick keeps a follower's lag metric meaningful.
func (r *Relay) followerTick(ctx context.Context) {
	published, err := r.checkpoint(ctx)
	if err != nil {
		return
	}
	r.observeLag(ctx, published)
}

// cursor is the leader's knowledge of the stream's tail.
type cursor struct {
	published int64  // position of the stream's last event
	lastMsgID string // its message id; "" when the stream is empty
	lastSeq   uint64 // the stream's last sequence
}

func (r *Relay) lead(ctx context.Context, lock *pgxpool.Conn, wake <-chan struct{}) error {
	r.metrics.leader.Set(1)
	var cur cursor
	synced := false
	backoff := newBackoff(r.cfg.MaxBackoff)
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
				r.logger.Warn("relay cannot reach its stream; retrying", "error", err)
				if !sleep(ctx, backoff.next()) {
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
			r.logger.Warn("relay cannot read the event log; retrying", "error", err)
			if !sleep(ctx, backoff.next()) {
				return nil
			}
			continue
		}
		if len(events) == 0 {
			r.observeLag(ctx, cur.published)
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
			r.logger.Warn("relay publish failed; re-syncing from the stream", "error", err, "published", cur.published)
			synced = false
			if !sleep(ctx, backoff.next()) {
				return nil
			}
			continue
		}
		backoff.reset()
		r.observeLag(ctx, cur.published)
	}
}

// nextBatch reads the events after the stream's tail, together with the
// tail itself: the log must still hold, at the last published position,
// the event that was published there. Otherwise the log was cut back (and
// perhaps appended to again by a replica that never knew), and the batch
// would extend the stream from an event the log no longer has.
func (r *Relay) nextBatch(ctx context.Context, cur cursor) ([]domain.RecordedEvent, error) {
	if cur.published == 0 {
		return r.events.ReadAll(ctx, 0, r.cfg.BatchSize)
	}
	events, err := r.events.ReadAll(ctx, cur.published-1, r.cfg.BatchSize+1)
	if err != nil {
		return nil, err
	}
	if len(events) > 0 && events[0].Position == cur.published && (cur.lastMsgID == "" || events[0].ID == cur.lastMsgID) {
		return events[1:], nil
	}
	head, err := r.events.HeadPosition(ctx)
	if err != nil {
		return nil, err
	}
	d := Disagreement{Position: head + 1, Reason: fmt.Sprintf(
		"the relay published up to position %d but the log now ends at %d: the log lost its tail", cur.published, head)}
	if head >= cur.published {
		d = Disagreement{Position: cur.published, Reason: fmt.Sprintf(
			"the relay published event %s at position %d but the log now holds another event there: the log was rewritten", cur.lastMsgID, cur.published)}
	}
	r.streamAhead(d)
	return nil, errTampered
}

// streamAhead reports a stream that holds what the log does not. The alarm
// logs the error; without one the relay does.
func (r *Relay) streamAhead(d Disagreement) {
	if r.cfg.Alarm != nil {
		r.cfg.Alarm.Trip(d.Position, d.Reason)
		return
	}
	r.logger.Error("the JetStream stream is ahead of the event log; not publishing", "position", d.Position, "reason", d.Reason)
}

// sync makes sure the stream exists and learns what it really holds.
func (r *Relay) sync(ctx context.Context, cur *cursor) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	stream, err := r.ensureStream(cctx)
	if err != nil {
		return err
	}
	info, err := stream.Info(cctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		// New, purged or expired: resume after the checkpoint. An operator
		// who wants the whole log replayed resets the checkpoint to 0.
		published, err := r.checkpoint(ctx)
		if err != nil {
			return err
		}
		*cur = cursor{published: published, lastSeq: info.State.LastSeq}
		return nil
	}
	tail, err := readTail(cctx, stream, info)
	if err != nil {
		return err
	}
	disagreement, err := compareTail(ctx, r.events, r.cfg.Stream, tail)
	if err != nil {
		if r.tampered() { // the store's own check of the event failed
			return errTampered
		}
		return err
	}
	if disagreement != nil {
		r.streamAhead(*disagreement)
		return errTampered
	}
	*cur = cursor{published: tail.Position, lastMsgID: tail.EventID, lastSeq: info.State.LastSeq}
	r.saveCheckpoint(ctx, tail.Position)
	return nil
}

// Tail is the last event a stream holds, as its headers name it.
type Tail struct {
	Sequence uint64 `json:"sequence"`
	Position int64  `json:"position"`
	EventID  string `json:"event_id"`
}

// Disagreement is where the log and its stream part ways.
type Disagreement struct {
	Position int64  `json:"position"`
	Reason   string `json:"reason"`
}

// readTail reads the last message of a non-empty stream.
func readTail(ctx context.Context, stream jetstream.Stream, info *jetstream.StreamInfo) (Tail, error) {
	last, err := stream.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return Tail{}, fmt.Errorf("read the stream's last message: %w", err)
	}
	position, err := strconv.ParseInt(last.Header.Get(HeaderPosition), 10, 64)
	if err != nil || position <= 0 {
		return Tail{}, fmt.Errorf("the last message of stream %s (sequence %d) has no valid %s header: is something else publishing on its subjects?",
			info.Config.Name, last.Sequence, HeaderPosition)
	}
	return Tail{Sequence: last.Sequence, Position: position, EventID: last.Header.Get(jetstream.MsgIDHeader)}, nil
}

// compareTail checks that the log holds the stream's last event at the
// position it was published with. It returns the disagreement, if any.
func compareTail(ctx context.Context, events EventReader, streamName string, tail Tail) (*Disagreement, error) {
	head, err := events.HeadPosition(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the log's head: %w", err)
	}
	if tail.Position > head {
		return &Disagreement{Position: head + 1, Reason: fmt.Sprintf(
			"JetStream stream %s ends with event %s at position %d, but the log ends at position %d: the log lost its tail (or the stream belongs to another log)",
			streamName, tail.EventID, tail.Position, head)}, nil
	}
	logged, err := events.ReadAll(ctx, tail.Position-1, 1)
	if err != nil {
		return nil, fmt.Errorf("read the logged event at position %d: %w", tail.Position, err)
	}
	if len(logged) == 0 || logged[0].Position != tail.Position || logged[0].ID != tail.EventID {
		held := "no event"
		if len(logged) > 0 && logged[0].Position == tail.Position {
			held = "event " + logged[0].ID
		}
		return &Disagreement{Position: tail.Position, Reason: fmt.Sprintf(
			"JetStream stream %s holds event %s at position %d where the log holds %s: the log was rewritten (or the stream belongs to another log)",
			streamName, tail.EventID, tail.Position, held)}, nil
	}
	return nil, nil
}

// CheckStream compares the log with what the named stream holds, for an
// operator (vaultctl verify): it returns the stream's tail (nil when the
// stream is empty) and the disagreement, if any.
func CheckStream(ctx context.Context, nc *nats.Conn, streamName string, events EventReader) (*Tail, *Disagreement, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("jetstream context: %w", err)
	}
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return nil, nil, fmt.Errorf("look up stream %s: %w", streamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil, nil, nil
	}
	tail, err := readTail(ctx, stream, info)
	if err != nil {
		return nil, nil, err
	}
	d, err := compareTail(ctx, events, streamName, tail)
	return &tail, d, err
}

// ensureStream creates the stream, or corrects the settings the relay
// depends on (its subjects and de-duplication window) and leaves the rest
// (retention, size limits, replicas) to the operator.
func (r *Relay) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	subjects := []string{r.cfg.SubjectPrefix + ".>"}
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		stream, err = r.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        r.cfg.Stream,
			Description: "Secure Vault events, redacted, in log order",
			Subjects:    subjects,
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Duplicates:  r.cfg.DuplicateWindow,
			Replicas:    r.cfg.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", r.cfg.Stream, err)
		}
		return stream, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", r.cfg.Stream, err)
	}
	cfg := stream.CachedInfo().Config
	if slices.Equal(cfg.Subjects, subjects) && cfg.Duplicates == r.cfg.DuplicateWindow {
		return stream, nil
	}
	cfg.Subjects, cfg.Duplicates = subjects, r.cfg.DuplicateWindow
	if stream, err = r.js.UpdateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("update stream %s: %w", r.cfg.Stream, err)
	}
	return stream, nil
}

// publish pipelines events and waits for their acks in order. It returns
// how many leading events were acknowledged (cur moves past them) and the
// first error. Once ctx is cancelled no further event is sent, but acks of
// those already sent are still awaited so the checkpoint is clean.
func (r *Relay) publish(ctx context.Context, cur *cursor, events []domain.RecordedEvent) (int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	var sendErr error
	prevID := cur.lastMsgID
	for _, ev := range events {
		if ctx.Err() != nil {
			sendErr = ctx.Err()
			break
		}
		msg, err := r.message(ev)
		if err != nil {
			// Never skip: the relay stays here, failing loudly, until
			// the event can be published.
			sendErr = fmt.Errorf("event at position %d: %w", ev.Position, err)
			break
		}
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(ev.ID), jetstream.WithRetryAttempts(0)}
		if prevID != "" {
			opts = append(opts, jetstream.WithExpectLastMsgID(prevID))
		} else {
			opts = append(opts, jetstream.WithExpectLastSequence(cur.lastSeq))
		}
		f, err := r.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			sendErr = fmt.Errorf("send event at position %d: %w", ev.Position, err)
			break
		}
		futures = append(futures, f)
		prevID = ev.ID
	}

	acked := 0
	var ackErr error
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			acked++
			cur.published, cur.lastMsgID, cur.lastSeq = events[i].Position, events[i].ID, ack.Sequence
			continue
		case err := <-f.Err():
			ackErr = fmt.Errorf("event at position %d not acknowledged: %w", events[i].Position, err)
		}
		break
	}
	if ackErr != nil {
		// Later messages may still be stored or rejected; wait until the
		// stream stops moving so the re-sync reads a settled tail.
		select {
		case <-r.js.PublishAsyncComplete():
		case <-time.After(r.cfg.PublishTimeout):
		}
		return acked, ackErr
	}
	return acked, sendErr
}

// message builds the redacted bus message of an event.
func (r *Relay) message(ev domain.RecordedEvent) (*nats.Msg, error) {
	data, err := domain.RedactForBus(ev.Data)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	payload, err := json.Marshal(Envelope{
		Position:      ev.Position,
		StreamID:      ev.StreamID,
		Version:       ev.Version,
		EventID:       ev.ID,
		Type:          ev.Type,
		SchemaVersion: ev.SchemaVersion,
		Data:          data,
		Metadata:      ev.Metadata,
		RecordedAt:    ev.RecordedAt,
	})
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	msg := nats.NewMsg(Subject(r.cfg.SubjectPrefix, ev))
	msg.Data = payload
	msg.Header.Set(HeaderPosition, strconv.FormatInt(ev.Position, 10))
	msg.Header.Set(HeaderStream, ev.StreamID)
	msg.Header.Set(HeaderVersion, strconv.FormatInt(ev.Version, 10))
	msg.Header.Set(HeaderType, ev.Type)
	msg.Header.Set(HeaderSchemaVersion, strconv.Itoa(ev.SchemaVersion))
	return msg, nil
}

// Envelope is the JSON payload of every bus message. Data is redacted:
// sealed_* members are gone.
type Envelope struct {
	Position      int64           `json:"position"`
	StreamID      string          `json:"stream_id"`
	Version       int64           `json:"version"`
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Metadata      domain.Metadata `json:"metadata"`
	RecordedAt    time.Time       `json:"recorded_at"`
}

// Subject is <prefix>.<aggregate>.<EventType>. Characters NATS gives a
// meaning to are replaced so an odd stream id or type can never widen or
// split a subject.
func Subject(prefix string, ev domain.RecordedEvent) string {
	return prefix + "." + subjectToken(domain.AggregateOf(ev.StreamID)) + "." + subjectToken(ev.Type)
}

func subjectToken(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(c rune) rune {
		switch c {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return c
	}, s)
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

func (r *Relay) observeLag(ctx context.Context, published int64) {
	head, err := r.events.HeadPosition(ctx)
	if err != nil {
		return
	}
	r.metrics.lag.Set(float64(max(head-published, 0)))
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

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads d over [d/2, d) so several vaultd processes do not retry in
// lockstep.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

type backoff struct {
	cur, max time.Duration
}

func newBackoff(maxWait time.Duration) *backoff {
	return &backoff{max: maxWait}
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = 100 * time.Millisecond
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return jitter(min(b.cur, b.max))
}

func (b *backoff) reset() { b.cur = 0 }
