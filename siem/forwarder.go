package siem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/securevault/vault/backoff"
	"github.com/securevault/vault/domain"
)

// Defaults for Config.
const (
	DefaultConsumer   = "vault-siem"
	DefaultBatchSize  = 256
	DefaultFetchWait  = 5 * time.Second
	DefaultAckWait    = 30 * time.Second
	DefaultMaxBackoff = 30 * time.Second
	initialBackoff    = 100 * time.Millisecond
)

// Config tunes a Forwarder. Zero values take the defaults.
type Config struct {
	// Stream is the JetStream stream the relay publishes to.
	Stream string
	// Consumer is the durable consumer's name: its position on the stream
	// is kept by the server, so a restarted forwarder resumes there. Run
	// one forwarder per consumer name: two would split the feed.
	Consumer string
	// Since, when the consumer does not exist yet, makes it start at the
	// first event published at or after that time instead of the stream's
	// beginning. It is ignored once the consumer exists.
	Since time.Time
	// BatchSize caps how many events are written (and fsynced) together;
	// it is also the consumer's MaxAckPending.
	BatchSize int
	// FetchWait is how long one pull waits for new events.
	FetchWait time.Duration
	// AckWait is how long the server waits for an acknowledgement before
	// it redelivers; while the sink is down the forwarder keeps extending
	// it, so it matters only when the forwarder itself dies.
	AckWait time.Duration
	// MaxBackoff caps the wait between attempts while the sink or NATS is
	// failing.
	MaxBackoff time.Duration
}

func (c Config) withDefaults() Config {
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FetchWait <= 0 {
		c.FetchWait = DefaultFetchWait
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	return c
}

// Forwarder copies the event stream into a sink, in stream order, at least
// once: a message is acknowledged only after the sink accepted it, and a
// restarted forwarder resumes after the last acknowledged message.
//
// Ordering. Messages are pulled in batches and written batch by batch; a
// batch that the sink refuses is retried, whole and in order, until it is
// accepted (extending the messages' ack deadline meanwhile), and no further
// message is pulled while one is held, so a later message is never written
// before an earlier one. A pull is never abandoned: on shutdown the
// forwarder waits for the pull in flight to end (at most FetchWait) and
// hands every message it brought back to the server (NAK), so nothing stays
// in flight to a forwarder that is gone, where it would wait AckWait and
// then arrive after its successors. A lost NATS connection or
// acknowledgement makes the server redeliver; the forwarder then keeps the
// order itself (see order.go), so within one run every event is written
// once, in stream order. Across a crash, a message whose acknowledgement
// was lost is written again rather than risk skipping one that was not.
type Forwarder struct {
	js     jetstream.JetStream
	format Formatter
	sink   Sink
	logger *slog.Logger
	cfg    Config
	order  sequencer
}

// NewForwarder prepares a forwarder; Run does the work. The forwarder does
// not close nc or sink.
func NewForwarder(nc *nats.Conn, format Formatter, sink Sink, logger *slog.Logger, cfg Config) (*Forwarder, error) {
	cfg = cfg.withDefaults()
	if cfg.Stream == "" {
		return nil, domain.Errorf(domain.EINVALID, "the SIEM forwarder needs a stream name")
	}
	if !validConsumerName(cfg.Consumer) {
		return nil, domain.Errorf(domain.EINVALID, "consumer name %q may not contain '.', '*', '>', slashes or whitespace", cfg.Consumer)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("siem: jetstream context: %w", err)
	}
	return &Forwarder{
		js:     js,
		format: format,
		sink:   sink,
		logger: logger.With("component", "siem", "stream", cfg.Stream, "consumer", cfg.Consumer),
		cfg:    cfg,
	}, nil
}

func validConsumerName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch c {
		case '.', '*', '>', '/', '\\', ' ', '\t', '\r', '\n':
			return false
		}
	}
	return true
}

// Run forwards until ctx ends, then returns nil. Failures of NATS or of the
// sink are retried with bounded exponential backoff, never returned.
func (f *Forwarder) Run(ctx context.Context) error {
	retry := f.retries()
	for ctx.Err() == nil {
		cons, err := f.consumer(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			f.logger.Warn("SIEM forwarder cannot open its consumer; retrying", "error", err)
			retry.Wait(ctx)
			continue
		}
		retry.Reset()
		f.order.resume(cons.CachedInfo().AckFloor.Stream)
		err = f.pump(ctx, cons)
		if ctx.Err() != nil {
			break
		}
		f.logger.Warn("SIEM forwarder lost its consumer; reopening", "error", err)
		retry.Wait(ctx)
	}
	return nil
}

// consumer opens the durable consumer, creating it on first use.
func (f *Forwarder) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := f.js.Stream(cctx, f.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", f.cfg.Stream, err)
	}
	cons, err := stream.Consumer(cctx, f.cfg.Consumer)
	if err == nil {
		if !f.cfg.Since.IsZero() {
			f.logger.Warn("the consumer exists already, so --since is ignored: it resumes where it stopped; delete the consumer to start over")
		}
		return cons, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("look up consumer %s: %w", f.cfg.Consumer, err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       f.cfg.Consumer,
		Description:   "Secure Vault SIEM forwarder",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       f.cfg.AckWait,
		// Never give up on a message: a SIEM feed with holes is worse than
		// one that is late.
		MaxDeliver:    -1,
		MaxAckPending: f.cfg.BatchSize,
	}
	if !f.cfg.Since.IsZero() {
		since := f.cfg.Since
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err = stream.CreateConsumer(cctx, cc)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		// Another forwarder created it a moment ago with other settings.
		return stream.Consumer(cctx, f.cfg.Consumer)
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", f.cfg.Consumer, err)
	}
	f.logger.Info("created the durable SIEM consumer", "deliver", cc.DeliverPolicy.String())
	return cons, nil
}

// pump pulls and forwards until ctx ends or the consumer fails.
func (f *Forwarder) pump(ctx context.Context, cons jetstream.Consumer) error {
	failures := f.retries()
	for ctx.Err() == nil {
		// Deliberately not tied to ctx: a pull cancelled on the client
		// drops what the server already sent it (see Forwarder).
		batch, err := cons.Fetch(f.cfg.BatchSize, jetstream.FetchMaxWait(f.cfg.FetchWait))
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return err
			}
			if ctx.Err() == nil {
				f.logger.Warn("SIEM forwarder cannot pull; retrying", "error", err)
				failures.Wait(ctx)
			}
			continue
		}
		if err := f.drain(ctx, batch.Messages()); err != nil {
			return err
		}
		if err := batch.Error(); err != nil && !benignFetchError(err) {
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return err
			}
			f.logger.Warn("SIEM forwarder pull ended with an error", "error", err)
			failures.Wait(ctx)
			continue
		}
		failures.Reset()
	}
	return nil
}

func benignFetchError(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages)
}

// drain writes the messages of one pull as they arrive: whatever has
// arrived is written as one batch as soon as nothing more is waiting, so a
// quiet stream costs no latency and a busy one is written in large batches.
// It returns only a context error; sink failures are retried inside.
func (f *Forwarder) drain(ctx context.Context, msgs <-chan jetstream.Msg) error {
	var pending []jetstream.Msg
	var records [][]byte
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := f.deliver(ctx, pending, records)
		if err == nil {
			f.order.wrote(streamSequence(pending[len(pending)-1]))
		} else {
			f.order.rewind() // deliver handed the batch back
		}
		pending, records = pending[:0], records[:0]
		return err
	}
	// hold hands m and the rest of the pull back for later: something
	// before m has not come back yet.
	hold := func(m jetstream.Msg) error {
		err := flush()
		delay := min(f.cfg.AckWait/2, 5*time.Second)
		f.logger.Info("SIEM forwarder waits for an earlier event the server is redelivering", "sequence", streamSequence(m), "next", f.order.next)
		_ = m.NakWithDelay(delay)
		for rest := range msgs {
			_ = rest.NakWithDelay(delay)
		}
		f.order.rewind()
		if err == nil {
			backoff.Sleep(ctx, delay)
		}
		return err
	}
	// add takes m into the batch; it reports false when m must be held.
	add := func(m jetstream.Msg) bool {
		if seq := streamSequence(m); seq != 0 {
			switch f.order.place(ctx, seq, f.present) {
			case already:
				if seq <= f.order.written {
					f.logger.Debug("SIEM forwarder skips a redelivered event it wrote already", "sequence", seq)
					_ = m.Ack() // written before; its acknowledgement was lost
				}
				return true
			case behind:
				return false
			}
		}
		record, err := f.render(m)
		if err != nil {
			// Not a vault event (something else published on the stream's
			// subjects) or one no formatter can express: retrying cannot
			// help, and holding the feed back for it would stop every later
			// event from reaching the SIEM.
			f.logger.Error("SIEM forwarder drops a message it cannot format", "subject", m.Subject(), "error", err)
			_ = m.TermWithReason("siem: cannot format")
			return true
		}
		pending = append(pending, m)
		records = append(records, record)
		return true
	}
	for {
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
				nakAll(msgs, nil)
				return ctx.Err()
			case m, ok := <-msgs:
				if !ok {
					return nil
				}
				if !add(m) {
					return hold(m)
				}
			}
			continue
		}
		select {
		case m, ok := <-msgs:
			if !ok {
				return flush()
			}
			if !add(m) {
				return hold(m)
			}
			if len(pending) >= f.cfg.BatchSize {
				if err := flush(); err != nil {
					nakAll(msgs, nil)
					return err
				}
			}
		default:
			if err := flush(); err != nil {
				nakAll(msgs, nil)
				return err
			}
		}
	}
}

func (f *Forwarder) render(m jetstream.Msg) ([]byte, error) {
	ev, err := Decode(m.Data())
	if err != nil {
		return nil, err
	}
	return f.format.Format(ev)
}

// deliver writes one batch, retrying until the sink accepts it, then
// acknowledges it. If ctx ends first the batch is handed back to the server
// (NAK) so the next run gets it at once, in order.
func (f *Forwarder) deliver(ctx context.Context, pending []jetstream.Msg, records [][]byte) error {
	retry := f.retries()
	for attempt := 0; ; attempt++ {
		err := f.sink.Write(ctx, records)
		if err == nil {
			if attempt > 0 {
				f.logger.Info("SIEM receiver is back; delivery resumed", "attempts", attempt+1)
			}
			break
		}
		if ctx.Err() != nil {
			nakAll(nil, pending)
			return ctx.Err()
		}
		wait := retry.Next()
		f.logger.Warn("SIEM receiver unavailable; holding events and retrying", "error", err, "events", len(pending), "retry_in", wait)
		// Keep the server from redelivering what this process still holds.
		for _, m := range pending {
			_ = m.InProgress()
		}
		if !backoff.Sleep(ctx, wait) {
			nakAll(nil, pending)
			return ctx.Err()
		}
	}
	// Acks from one connection are processed in order, so when the server
	// confirms the last one every earlier one has been applied too: one
	// round trip per batch instead of one per message.
	last := len(pending) - 1
	for _, m := range pending[:last] {
		_ = m.Ack()
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := pending[last].DoubleAck(actx); err != nil {
		// The batch may be delivered and written again: a duplicate is
		// better than a hole.
		f.logger.Warn("SIEM forwarder could not confirm its acknowledgement", "error", err)
	}
	return nil
}

// nakAll hands messages back for immediate redelivery: those held, then
// every message of the pull in flight until it ends.
func nakAll(msgs <-chan jetstream.Msg, held []jetstream.Msg) {
	for _, m := range held {
		_ = m.Nak()
	}
	for m := range msgs {
		_ = m.Nak()
	}
}

// retries paces retries against a failing receiver or NATS: exponential up
// to MaxBackoff, jittered so several forwarders do not hammer a recovering
// receiver in lockstep.
func (f *Forwarder) retries() *backoff.Backoff {
	return backoff.New(initialBackoff, f.cfg.MaxBackoff)
}
