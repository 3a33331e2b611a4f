package siem

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// The feed in stream order, exactly once per run.
//
// JetStream redelivers a message whose acknowledgement it did not get
// within AckWait. Two things then go wrong for a SIEM: a message that was
// written but whose ack was lost (a NATS node going away mid-batch) is
// written again, and a message that was delivered to a pull the forwarder
// never received (its connection dropped) comes back only after AckWait,
// behind messages pulled since. So the forwarder tracks the stream sequence
// itself: it skips (and acknowledges) what it already wrote, and holds back
// a message that would jump over one the stream still has, handing it back
// until the missing one has been redelivered. Stream sequences of the
// vault's stream are gapless (one message per log position), so a jump is
// always a message still out, unless the stream no longer holds it
// (removed by a retention limit), which is then skipped.

// placement is what to do with a delivered message.
type placement int

const (
	place   placement = iota // the next one: write it
	already                  // written or pending already: a redelivery
	behind                   // something before it is still out: hold it
)

// sequencer is the forwarder's knowledge of how far the feed got; only
// Run's goroutine uses it.
type sequencer struct {
	written uint64 // the stream sequence of the last message written
	next    uint64 // the stream sequence the feed needs next
}

// resume starts from the consumer's acknowledgement floor, below which
// every message was acknowledged, by this run or an earlier one.
func (s *sequencer) resume(ackFloor uint64) {
	s.written = max(s.written, ackFloor)
	s.next = s.written + 1
}

// place decides about the message at stream sequence seq. present reports
// whether the stream still holds a sequence; it is asked only on a jump.
func (s *sequencer) place(ctx context.Context, seq uint64, present func(context.Context, uint64) (bool, error)) placement {
	switch {
	case seq < s.next:
		return already
	case seq > s.next:
		for missing := s.next; missing < seq; missing++ {
			if ok, err := present(ctx, missing); ok || err != nil {
				return behind
			}
		}
	}
	s.next = seq + 1
	return place
}

// wrote records that everything up to seq is written.
func (s *sequencer) wrote(seq uint64) { s.written = max(s.written, seq) }

// rewind forgets placements not yet written, after handing them back.
func (s *sequencer) rewind() { s.next = s.written + 1 }

// streamSequence is a delivered message's position in the stream (0 when
// the message carries no JetStream metadata, which then goes as it comes).
func streamSequence(m jetstream.Msg) uint64 {
	meta, err := m.Metadata()
	if err != nil {
		return 0
	}
	return meta.Sequence.Stream
}

// present reports whether the stream still holds seq.
func (f *Forwarder) present(ctx context.Context, seq uint64) (bool, error) {
	stream, err := f.js.Stream(ctx, f.cfg.Stream)
	if err != nil {
		return false, err
	}
	_, err = stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	return err == nil, err
}
