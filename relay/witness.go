// The stream as a witness of the log: its tail must be in the log, at the
// position it was published with, or the log lost (or rewrote) its tail.

package relay

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/securevault/vault/domain"
)

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
