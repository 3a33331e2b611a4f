package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// SystemActor is the actor recorded for events the service emits on its own
// (bootstrap, automatic version pruning, checkpoints).
const SystemActor = "system"

// AnonymousActor is the actor recorded for a caller without a valid session
// (a login attempt, a refused request).
const AnonymousActor = "anonymous"

// Metadata travels with every event. The audit log is a projection of it, so
// every field a reviewer could ask about "who did this, from where, as part of
// what" lives here and nowhere else.
type Metadata struct {
	Actor         string `json:"actor"`
	ActorName     string `json:"actor_name,omitempty"`
	ClientIP      string `json:"client_ip,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
}

// NewEvent is an event about to be appended. ID must be a UUID chosen by the
// caller: appending an ID that is already stored is an idempotent no-op.
type NewEvent struct {
	ID            string
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      Metadata
}

// RecordedEvent is an event as the store keeps it.
type RecordedEvent struct {
	Position      int64           `json:"position"`
	StreamID      string          `json:"stream_id"`
	Version       int64           `json:"version"`
	ID            string          `json:"event_id"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Metadata      Metadata        `json:"metadata"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Hash          []byte          `json:"hash"`
}

// Aggregate names the aggregate type of the event's stream.
func (e RecordedEvent) Aggregate() string { return AggregateOf(e.StreamID) }

// ExpectedVersion is the optimistic-concurrency condition of an append.
type ExpectedVersion int64

const (
	// ExpectAny appends whatever the stream's current version is.
	ExpectAny ExpectedVersion = -1
	// ExpectNoStream appends only if the stream has no events yet.
	ExpectNoStream ExpectedVersion = 0
)

// ExpectVersion demands that the stream's last event has exactly version n.
func ExpectVersion(n int64) ExpectedVersion { return ExpectedVersion(n) }

// StreamAppend is one stream's share of an atomic multi-stream append.
type StreamAppend struct {
	StreamID string
	Expected ExpectedVersion
	Events   []NewEvent
}

// AppendResult reports where an append landed. For an idempotent replay it
// reports the positions already stored.
type AppendResult struct {
	// LastPosition is the global position of the last event written (or
	// already present), which a client can pass as X-Vault-Position.
	LastPosition int64
	// Versions is the new version of each stream, by stream id.
	Versions map[string]int64
	// RecordedAt is the time the log stamped on the events written (zero
	// when none were: an append already stored answers with its positions
	// only).
	RecordedAt time.Time
}

// StreamID joins an aggregate type and an id into a stream id. Aggregate names
// are single lowercase words so they can be a NATS subject token.
func StreamID(aggregate, id string) string { return aggregate + "-" + id }

// AggregateOf returns the aggregate part of a stream id.
func AggregateOf(streamID string) string {
	if i := strings.IndexByte(streamID, '-'); i > 0 {
		return streamID[:i]
	}
	return streamID
}
