package queries

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// At says which state a read answers. The zero value is the present, from
// the read model. Time or Position (never both) asks for the state as of a
// past instant, folded from the log; MinPosition asks a read of the present
// to wait until its read model has applied that position.
type At struct {
	Time        *time.Time
	Position    *int64
	MinPosition int64
}

// Past reports whether the read asks for a past instant.
func (a At) Past() bool { return a.Time != nil || a.Position != nil }

// Instant is an At resolved against the log: the last position that
// belongs to it (0: before the first event) and, when the client gave a
// time, that time.
type Instant struct {
	Position int64      `json:"at_position"`
	Time     *time.Time `json:"as_of,omitempty"`
}

// Result is one read's answer and, when it was read as of a past instant,
// that instant (nil for the present).
type Result[T any] struct {
	Value T
	At    *Instant
}

// Page is one page of a listing. NextCursor is empty on the last page; the
// instant is set when the listing was read as of one.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	*Instant
}

// Actor is who caused an event, as its metadata recorded it.
type Actor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

func actorOf(md domain.Metadata) Actor { return Actor{ID: md.Actor, Name: md.ActorName} }

// Resolve turns the past instant a client asked for into a position of the
// log. A time in the future or a position beyond the head is refused rather
// than answered as "now": the answer could change once the log grows, and a
// client asking for it has most likely made a mistake.
//
// A time resolves to the last position recorded at or before it. An append
// in flight at that instant may still commit with an earlier recorded time,
// so answers as of the last few moments can change; a position at or below
// the head never does.
func (s *Service) Resolve(ctx context.Context, at At) (Instant, error) {
	if at.Time != nil && at.Position != nil {
		return Instant{}, domain.Errorf(domain.EINVALID, "give as_of or at_position, not both")
	}
	if !at.Past() {
		return Instant{}, domain.Errorf(domain.EINVALID, "give as_of or at_position")
	}
	return s.resolve(ctx, at, "as_of", "at_position")
}

// resolve names the parameter the client used in its error messages.
func (s *Service) resolve(ctx context.Context, at At, timeParam, positionParam string) (Instant, error) {
	if at.Time != nil {
		t := at.Time.UTC()
		if now := s.opts.Now(); t.After(now) {
			return Instant{}, domain.Errorf(domain.EINVALID, "%s %s is in the future (server time %s)",
				timeParam, t.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
		}
		pos, err := s.log.PositionAt(ctx, t)
		if err != nil {
			return Instant{}, err
		}
		return Instant{Position: pos, Time: &t}, nil
	}
	pos := *at.Position
	if pos < 0 {
		return Instant{}, domain.Errorf(domain.EINVALID, "%s must be a non-negative integer", positionParam)
	}
	head, err := s.log.HeadPosition(ctx)
	if err != nil {
		return Instant{}, err
	}
	if pos > head {
		return Instant{}, domain.Errorf(domain.EINVALID, "%s %d is beyond the head of the log (position %d)", positionParam, pos, head)
	}
	return Instant{Position: pos}, nil
}

// instantOrHead resolves a past instant, or takes the head of the log for
// reads such as a secret's history that default to everything recorded so
// far.
func (s *Service) instantOrHead(ctx context.Context, at At) (Instant, error) {
	if at.Past() {
		return s.Resolve(ctx, at)
	}
	head, err := s.log.HeadPosition(ctx)
	if err != nil {
		return Instant{}, err
	}
	return Instant{Position: head}, nil
}

// source answers a read from the read model, or, when at asks for a past
// instant, from the log folded up to it. It is the one place a read picks
// its source, so every read offers time travel the same way. present is
// given the position the read model is known to have applied (0: not
// known).
func source[T any](ctx context.Context, s *Service, caller domain.Caller, at At, readModel string,
	present func(applied int64) (T, error), past func(Instant) (T, error)) (T, *Instant, error) {
	var zero T
	if !at.Past() {
		applied, err := s.awaitReadModel(ctx, caller, at.MinPosition, readModel)
		if err != nil {
			return zero, nil, err
		}
		v, err := present(applied)
		return v, nil, err
	}
	in, err := s.Resolve(ctx, at)
	if err != nil {
		return zero, nil, err
	}
	v, err := past(in)
	if err != nil {
		return zero, nil, err
	}
	return v, &in, nil
}
