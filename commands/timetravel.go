package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// StreamsReadModel is the stream catalog projection time-travel listings
// enumerate streams with; it matches projections/streams.Name.
const StreamsReadModel = "streams"

// StreamCatalog enumerates the streams of one aggregate in stream id order;
// *projections/streams.Catalog satisfies it. The catalog only says which
// streams exist now; what each held at a past instant is always folded from
// the log.
type StreamCatalog interface {
	StreamIDs(ctx context.Context, aggregate, afterStreamID string, limit int) ([]string, error)
}

// AsOf is the past instant a client asks for: a time or a log position,
// never both. The zero value asks for nothing.
type AsOf struct {
	Time     *time.Time
	Position *int64
}

// Instant is an AsOf resolved against the log: the last position that
// belongs to it (0: before the first event) and, when the client gave a
// time, that time.
type Instant struct {
	Position int64      `json:"at_position"`
	Time     *time.Time `json:"as_of,omitempty"`
}

// Actor is who caused an event, as its metadata recorded it.
type Actor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// TimeTravel answers reads as of a past instant by folding streams up to
// that position with the same domain code the commands use.
//
// Every read starts from the nearest snapshot at or before its instant (see
// foldAt) and fetches the few events whose metadata it shows (who created or
// last changed a resource) by version, so it costs what its answer costs
// plus index probes, not the length of the history. Only a version listing
// reads every version's events, because it shows every version.
type TimeTravel struct {
	secrets  *Secrets
	identity *Identity
	catalog  StreamCatalog
}

// NewTimeTravel returns the time-travel queries over the secret and identity
// handlers' event log.
func NewTimeTravel(secrets *Secrets, identity *Identity, catalog StreamCatalog) (*TimeTravel, error) {
	if secrets == nil || identity == nil || catalog == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "time travel needs the secret and identity handlers and a stream catalog")
	}
	if secrets.svc != identity.svc {
		return nil, domain.Errorf(domain.EINTERNAL, "time travel needs secret and identity handlers over one service")
	}
	return &TimeTravel{secrets: secrets, identity: identity, catalog: catalog}, nil
}

func (t *TimeTravel) svc() *Service { return t.secrets.svc }

// Resolve turns what the client asked for into a position of the log. A
// time in the future or a position beyond the head is refused rather than
// answered as "now": the answer could change once the log grows, and a
// client asking for it has most likely made a mistake.
//
// A time resolves to the last position recorded at or before it. An append
// in flight at that instant may still commit with an earlier recorded time,
// so answers as of the last few moments can change; a position at or below
// the head never does.
func (t *TimeTravel) Resolve(ctx context.Context, in AsOf) (Instant, error) {
	if in.Time != nil && in.Position != nil {
		return Instant{}, domain.Errorf(domain.EINVALID, "give as_of or at_position, not both")
	}
	if in.Time == nil && in.Position == nil {
		return Instant{}, domain.Errorf(domain.EINVALID, "give as_of or at_position")
	}
	return t.resolve(ctx, in, "as_of", "at_position")
}

// resolve names the parameter the client used in its error messages.
func (t *TimeTravel) resolve(ctx context.Context, in AsOf, timeParam, positionParam string) (Instant, error) {
	if in.Time != nil {
		at := in.Time.UTC()
		if now := t.svc().opts.Now(); at.After(now) {
			return Instant{}, domain.Errorf(domain.EINVALID, "%s %s is in the future (server time %s)",
				timeParam, at.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
		}
		pos, err := t.svc().log.PositionAt(ctx, at)
		if err != nil {
			return Instant{}, err
		}
		return Instant{Position: pos, Time: &at}, nil
	}
	pos := *in.Position
	if pos < 0 {
		return Instant{}, domain.Errorf(domain.EINVALID, "%s must be a non-negative integer", positionParam)
	}
	head, err := t.svc().log.HeadPosition(ctx)
	if err != nil {
		return Instant{}, err
	}
	if pos > head {
		return Instant{}, domain.Errorf(domain.EINVALID, "%s %d is beyond the head of the log (position %d)", positionParam, pos, head)
	}
	return Instant{Position: pos}, nil
}

// awaitCatalog waits, bounded, until the stream catalog has applied pos, so
// every stream that existed at pos is listed. Without a waiter (tests of
// one replica) there is nothing to wait for.
func (t *TimeTravel) awaitCatalog(ctx context.Context, pos int64) error {
	s := t.svc()
	if s.waiter == nil || pos <= 0 {
		return nil
	}
	return s.waiter.WaitFor(ctx, pos, s.opts.ReadYourWritesTimeout, StreamsReadModel)
}

// scanAt walks the streams of aggregate after the cursor stream id and
// offers each to visit, which folds it up to pos and answers whether it kept
// an item (a stream created after pos keeps none). It stops after limit kept
// items or listScanPages catalog pages, and returns the stream id to
// continue after ("" at the end).
func (t *TimeTravel) scanAt(ctx context.Context, aggregate string, pos int64, after string, limit int,
	visit func(streamID string) (bool, error)) (string, error) {
	if pos <= 0 {
		return "", nil
	}
	if err := t.awaitCatalog(ctx, pos); err != nil {
		return "", err
	}
	kept := 0
	for range listScanPages {
		ids, err := t.catalog.StreamIDs(ctx, aggregate, after, limit)
		if err != nil {
			return "", err
		}
		for i, sid := range ids {
			after = sid
			ok, err := visit(sid)
			if err != nil {
				return "", err
			}
			if !ok {
				continue
			}
			if kept++; kept == limit {
				if i < len(ids)-1 || len(ids) == limit {
					return after, nil
				}
				return "", nil
			}
		}
		if len(ids) < limit {
			return "", nil
		}
	}
	return after, nil
}

// pageLimit applies the default page size and the listing bound.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return 50, nil
	case limit < 0 || limit > domain.SecretListMaxLimit:
		return 0, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.SecretListMaxLimit)
	}
	return limit, nil
}

// requireCaller refuses anonymous callers before any log is read.
func requireCaller(caller Caller) error {
	if !caller.Principal.Authenticated() {
		return domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	return nil
}

func actorOf(md domain.Metadata) Actor { return Actor{ID: md.Actor, Name: md.ActorName} }

// Head is the instant "now": the head of the log, for reads such as a
// secret's history that default to everything recorded so far.
func (t *TimeTravel) Head(ctx context.Context) (Instant, error) {
	head, err := t.svc().log.HeadPosition(ctx)
	if err != nil {
		return Instant{}, err
	}
	return Instant{Position: head}, nil
}
