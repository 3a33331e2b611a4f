// Package eventstore is the vault's source of truth: an append-only,
// hash-chained log of events in PostgreSQL.
//
// Each event's link is an HMAC-SHA256, under a chain key the database never
// holds, over the previous link and the event's fields (integrity.go), so
// someone who owns the database cannot change, insert or re-chain events.
// Every read checks the links of what it returns before anyone uses it.
//
// Appends go through one group-commit writer per process. The writer takes
// every append waiting at that moment, locks the chain-head row, checks each
// append's expected version, and writes the whole batch in one transaction.
// The head-row lock is held to commit, so across every process positions are
// assigned in commit order without gaps: a reader that pages through
// position > N can never miss an event that commits later with a smaller
// position. The same total order is what the hash chain needs.
package eventstore

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

// NotifyChannel is notified, with the last position as payload, by every
// append transaction that wrote events: the payload is the head of the log
// as of its commit, never past it (readers may keep it instead of reading
// the head; see pgnotify.Head).
const NotifyChannel = "vault_events"

// Options tune a Store. The zero value is usable.
type Options struct {
	// Alarm, when set, is tripped by every integrity violation a read or
	// an append meets, and stops appends once tripped.
	Alarm Alarm
	// MaxBatch bounds how many waiting appends one transaction takes.
	MaxBatch int
	// Upcasters rewrite old payloads on read, keyed by event type. Stored
	// events are never rewritten.
	Upcasters map[string]Upcaster
	// Registerer receives the store's metrics when not nil.
	Registerer prometheus.Registerer
	// Now is the clock; tests may pin it.
	Now func() time.Time
}

// Upcaster turns a payload of schemaVersion into the current shape and
// returns the new schema version. It is called repeatedly until the version
// stops changing, so each upcaster only needs to know one step.
type Upcaster func(schemaVersion int, data json.RawMessage) (int, json.RawMessage, error)

// Store appends to and reads from the event log.
type Store struct {
	pool    *pgxpool.Pool
	keys    *ChainKeys
	alarm   Alarm
	queries *esdb.Queries
	logger  *slog.Logger
	opts    Options
	metrics *metrics
	seal    sealState

	// cache is the writer's knowledge of the log as of its own last commit;
	// only the writer goroutine touches it.
	cache writerCache
	// highWater is the highest head this writer has committed or seen. The
	// head never moves back, so seeing it below highWater means the tail
	// was removed. Only the writer goroutine touches it.
	highWater int64

	requests chan *appendRequest
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

// appendRequest is one caller's atomic append. A request without appends
// only makes the writer look at the head (Seal).
type appendRequest struct {
	ctx     context.Context
	appends []preparedAppend
	result  chan appendOutcome
}

// preparedAppend is a validated StreamAppend with everything that does not
// depend on the log's state already computed, in the caller's goroutine,
// so the single writer only does what must be serialised.
type preparedAppend struct {
	streamID string
	expected domain.ExpectedVersion
	events   []preparedEvent
}

type preparedEvent struct {
	id            uuid.UUID
	eventType     string
	schemaVersion int32
	data          []byte
	metadata      []byte
}

type appendOutcome struct {
	result domain.AppendResult
	err    error
}

// New returns a store whose links are made and checked with keys, and
// starts its writer; Close stops it. keys is required.
func New(pool *pgxpool.Pool, keys *ChainKeys, logger *slog.Logger, opts Options) *Store {
	if keys == nil {
		panic("eventstore: New needs the chain keys")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	s := &Store{
		pool:     pool,
		keys:     keys,
		alarm:    opts.Alarm,
		queries:  esdb.New(),
		logger:   logger,
		opts:     opts,
		metrics:  newMetrics(opts.Registerer),
		requests: make(chan *appendRequest, opts.MaxBatch),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	// One writer: batches serialise on the chain-head lock anyway, and a
	// second writer measured slower (it splits the waiting appends into
	// smaller batches).
	go func() {
		defer close(s.stopped)
		s.writeLoop()
	}()
	return s
}

// Close stops the writer after the batch in flight; appends still queued
// fail with EUNAVAILABLE.
func (s *Store) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.stopped
}

// Append appends events to one stream if its version matches expected.
func (s *Store) Append(ctx context.Context, streamID string, expected domain.ExpectedVersion, events ...domain.NewEvent) (domain.AppendResult, error) {
	return s.AppendStreams(ctx, domain.StreamAppend{StreamID: streamID, Expected: expected, Events: events})
}

// AppendStreams appends to several streams atomically: either every stream's
// expected version holds and all events are written, or nothing is. This is
// how a unique name is reserved together with the aggregate that takes it.
//
// Re-appending events whose ids are all stored already succeeds without
// writing, so a client may retry an append whose outcome it did not learn.
func (s *Store) AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error) {
	prepared, err := prepare(appends)
	if err != nil {
		return domain.AppendResult{}, err
	}
	if err := s.refuseIfTampered(); err != nil {
		return domain.AppendResult{}, err
	}
	return s.submit(ctx, prepared)
}

// submit hands prepared appends to the writer and waits for the outcome.
func (s *Store) submit(ctx context.Context, prepared []preparedAppend) (domain.AppendResult, error) {
	started := time.Now()
	shuttingDown := domain.Errorf(domain.EUNAVAILABLE, "the event store is shutting down")
	select {
	case <-s.stop:
		return domain.AppendResult{}, shuttingDown
	default:
	}
	req := &appendRequest{ctx: ctx, appends: prepared, result: make(chan appendOutcome, 1)}
	select {
	case s.requests <- req:
	case <-s.stop:
		return domain.AppendResult{}, shuttingDown
	case <-ctx.Done():
		return domain.AppendResult{}, ctx.Err()
	}
	select {
	case out := <-req.result:
		s.metrics.observeAppend(time.Since(started), out.err)
		return out.result, out.err
	case <-s.stopped:
		// The writer finished its last batch; a request it never took is lost.
		select {
		case out := <-req.result:
			return out.result, out.err
		default:
			return domain.AppendResult{}, shuttingDown
		}
	case <-ctx.Done():
		// The writer may still commit it; the event ids make a retry safe.
		return domain.AppendResult{}, ctx.Err()
	}
}

// prepare validates appends and computes their rows' state-independent
// parts.
func prepare(appends []domain.StreamAppend) ([]preparedAppend, error) {
	if len(appends) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "an append needs at least one stream")
	}
	out := make([]preparedAppend, 0, len(appends))
	withEvents := false
	seenStreams := make(map[string]bool, len(appends))
	seenIDs := make(map[uuid.UUID]bool)
	for _, a := range appends {
		if a.StreamID == "" {
			return nil, domain.Errorf(domain.EINVALID, "stream id is empty")
		}
		if a.StreamID == domain.ChainSealStream {
			return nil, domain.Errorf(domain.EINVALID, "stream %s belongs to the event store itself", a.StreamID)
		}
		if seenStreams[a.StreamID] {
			return nil, domain.Errorf(domain.EINVALID, "stream %q appears twice in one append", a.StreamID)
		}
		seenStreams[a.StreamID] = true
		if a.Expected < domain.ExpectAny {
			return nil, domain.Errorf(domain.EINVALID, "invalid expected version %d", a.Expected)
		}
		if len(a.Events) == 0 && a.Expected < 0 {
			// A stream without events is a condition (it must be at exactly
			// that version), which only an exact version can state.
			return nil, domain.Errorf(domain.EINVALID, "append to %q has no events", a.StreamID)
		}
		withEvents = withEvents || len(a.Events) > 0
		pa := preparedAppend{streamID: a.StreamID, expected: a.Expected, events: make([]preparedEvent, 0, len(a.Events))}
		for _, e := range a.Events {
			id, err := uuid.Parse(e.ID)
			if err != nil {
				return nil, domain.Errorf(domain.EINVALID, "event id %q is not a UUID", e.ID)
			}
			if seenIDs[id] {
				return nil, domain.Errorf(domain.EINVALID, "event id %s appears twice in one append", e.ID)
			}
			seenIDs[id] = true
			if e.Type == "" {
				return nil, domain.Errorf(domain.EINVALID, "event type is empty")
			}
			if e.SchemaVersion < 1 || e.SchemaVersion > math.MaxInt32 {
				return nil, domain.Errorf(domain.EINVALID, "event %s has schema version %d; versions run from 1 to %d", e.Type, e.SchemaVersion, math.MaxInt32)
			}
			if !json.Valid(e.Data) {
				return nil, domain.Errorf(domain.EINVALID, "event %s data is not valid JSON", e.Type)
			}
			metadata, err := json.Marshal(e.Metadata)
			if err != nil {
				return nil, domain.WrapError(domain.EINVALID, "event metadata cannot be encoded", err)
			}
			pa.events = append(pa.events, preparedEvent{
				id: id, eventType: e.Type, schemaVersion: int32(e.SchemaVersion), data: e.Data, metadata: metadata,
			})
		}
		out = append(out, pa)
	}
	if !withEvents {
		return nil, domain.Errorf(domain.EINVALID, "an append needs at least one event")
	}
	return out, nil
}

func (s *Store) writeLoop() {
	for {
		var first *appendRequest
		select {
		case <-s.stop:
			s.failQueued()
			return
		case first = <-s.requests:
		}
		batch := []*appendRequest{first}
	collect:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r := <-s.requests:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.commit(batch)
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.requests:
			r.result <- appendOutcome{err: domain.Errorf(domain.EUNAVAILABLE, "the event store is shutting down")}
		default:
			return
		}
	}
}

// commit writes a batch. A failure of the whole transaction (as opposed to a
// per-append conflict) is retried append by append, so one bad request never
// fails the others that happened to share its batch.
func (s *Store) commit(batch []*appendRequest) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.result <- appendOutcome{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The batch outlives any single caller's context: one caller giving up
	// must not abort the others' writes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.metrics.batchSize.Observe(float64(len(live)))
	outcomes, err := s.writeBatch(ctx, live)
	if err == nil {
		for i, r := range live {
			r.result <- outcomes[i]
		}
		return
	}
	if integrityFailure(err) {
		// A tampered log fails every append alike; retrying one by one
		// would only meet it again. The alarm has logged it.
		for _, r := range live {
			r.result <- appendOutcome{err: err}
		}
		return
	}
	if len(live) == 1 {
		s.logger.Error("append failed", "error", err)
		live[0].result <- appendOutcome{err: translate(err)}
		return
	}
	s.logger.Warn("batch append failed; retrying appends one by one", "error", err, "batch", len(live))
	for _, r := range live {
		s.commit([]*appendRequest{r})
	}
}
