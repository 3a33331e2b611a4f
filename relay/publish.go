// Publishing: the bus message of an event, and the pipelined publish that
// keeps the stream in log order.

package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/securevault/vault/domain"
)

// Message headers, beside Nats-Msg-Id (the event id).
const (
	HeaderPosition      = "Vault-Position"
	HeaderStream        = "Vault-Stream"
	HeaderVersion       = "Vault-Version"
	HeaderType          = "Vault-Type"
	HeaderSchemaVersion = "Vault-Schema-Version"
)

// publish pipelines events and waits for their acks in order. It returns
// how many leading events were acknowledged (cur moves past them) and the
// first error. Once ctx is cancelled no further event is sent, but acks of
// those already sent are still awaited so the checkpoint is clean.
func (r *Relay) publish(ctx context.Context, cur *cursor, events []domain.RecordedEvent) (int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	var sendErr error
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
		// Message i of the batch lands at the stream's last sequence + i + 1
		// or not at all (see the package comment).
		opts := []jetstream.PublishOpt{
			jetstream.WithMsgID(ev.ID),
			jetstream.WithRetryAttempts(0),
			jetstream.WithExpectLastSequence(cur.lastSeq + uint64(len(futures))),
		}
		f, err := r.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			sendErr = fmt.Errorf("send event at position %d: %w", ev.Position, err)
			break
		}
		futures = append(futures, f)
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
