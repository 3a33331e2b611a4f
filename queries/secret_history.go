package queries

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// HistoryEntry is one event of a secret's timeline: who, when, from where,
// and which metadata it changed. It never carries a value or a sealed
// field: changes are computed from folded metadata, not copied from the
// payload.
type HistoryEntry struct {
	Position  int64     `json:"position"`
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Actor     Actor     `json:"actor"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	RequestID string    `json:"request_id,omitempty"`
	// Changes maps a field (name, description, tags, state,
	// current_version, or versions.<n> for one version's state) to its
	// before and after. A reveal changes nothing.
	Changes map[string]Change `json:"changes"`
	// RevealedVersion is the version a SecretRevealed event disclosed.
	RevealedVersion int64 `json:"revealed_version,omitempty"`
}

// HistoryInput pages a timeline, oldest first. Cursor is opaque: the
// NextCursor of the previous page (the position it ended at).
type HistoryInput struct {
	Cursor string
	Limit  int
}

// HistoryPage is one page of a timeline, up to the instant it was read at;
// NextCursor is empty on the last page.
type HistoryPage struct {
	SecretID   string         `json:"secret_id"`
	Items      []HistoryEntry `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
	Instant
}

// History returns the timeline of a secret up to the instant (the head of
// the log when at is the present): every event of its stream and of its
// access stream (reveals), merged by position. It needs `read` on
// secrets/<name>.
//
// A page costs what it shows: the secret is folded as it was at the cursor
// from the nearest snapshot (see fold.At), then the page's events of both
// streams are read by position and each entry's change is the difference
// one event made to the folded secret. Nothing before the cursor is read
// beyond that snapshot.
func (q *Secrets) History(ctx context.Context, caller domain.Caller, id string, in HistoryInput, asOf At) (HistoryPage, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return HistoryPage{}, err
	}
	at, err := q.svc.instantOrHead(ctx, asOf)
	if err != nil {
		return HistoryPage{}, err
	}
	limit, err := pageLimit(in.Limit, domain.SecretListMaxLimit)
	if err != nil {
		return HistoryPage{}, err
	}
	cursor, err := domain.DecodePositionCursor(in.Cursor)
	if err != nil {
		return HistoryPage{}, err
	}
	if !domain.IsID(id) {
		return HistoryPage{}, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	streamID := domain.StreamID(domain.SecretAggregate, id)
	base, found, err := fold.At(ctx, q.svc.fold, streamID, min(cursor, at.Position), domain.LoadSecret, domain.RestoreSecret)
	if err != nil {
		return HistoryPage{}, err
	}
	var sec *domain.Secret
	if found {
		sec = base.Agg
	}
	// One more event of each stream than the page tells whether a next page
	// exists. The fold holds every event at or below the cursor.
	changes, err := q.svc.log.ReadStreamPositions(ctx, streamID, min(cursor, at.Position), at.Position, limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	if sec == nil && len(changes) == 0 {
		return HistoryPage{}, domain.Errorf(domain.ENOTFOUND, "secret not found at position %d", at.Position)
	}
	name, err := secretName(sec, changes)
	if err != nil {
		return HistoryPage{}, err
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.SecretResource(name)); err != nil {
		return HistoryPage{}, err
	}
	reveals, err := q.revealsBetween(ctx, id, cursor, at.Position, limit+1)
	if err != nil {
		return HistoryPage{}, err
	}

	page := HistoryPage{SecretID: id, Items: make([]HistoryEntry, 0, min(limit, len(changes)+len(reveals))), Instant: at}
	for len(page.Items) < limit && (len(changes) > 0 || len(reveals) > 0) {
		if len(reveals) > 0 && (len(changes) == 0 || reveals[0].Position < changes[0].Position) {
			e, err := revealEntry(reveals[0])
			if err != nil {
				return HistoryPage{}, err
			}
			page.Items, reveals = append(page.Items, e), reveals[1:]
			continue
		}
		e := entryOf(changes[0])
		if sec, e.Changes, err = stepSecret(sec, changes[0]); err != nil {
			return HistoryPage{}, err
		}
		page.Items, changes = append(page.Items, e), changes[1:]
	}
	if len(page.Items) == limit && (len(changes) > 0 || len(reveals) > 0) {
		page.NextCursor = domain.EncodePositionCursor(page.Items[limit-1].Position)
	}
	return page, nil
}

// secretName is the name of a secret folded before a page or, when the page
// starts with the secret's creation, the name it was created with. Names
// never change.
func secretName(sec *domain.Secret, page []domain.RecordedEvent) (string, error) {
	if sec != nil {
		return sec.Name(), nil
	}
	created, err := domain.LoadSecret(page[:1])
	if err != nil {
		return "", err
	}
	return created.Name(), nil
}

// stepSecret folds one event into a secret (nil before its first event) and
// returns the secret after it with what the event changed: the metadata
// that differs, and the state of the one version it names, if any.
func stepSecret(sec *domain.Secret, ev domain.RecordedEvent) (*domain.Secret, map[string]Change, error) {
	before := secretMeta{}
	if sec != nil {
		before = metaOf(sec)
	}
	var (
		touched     int64
		stateBefore string
	)
	if ev.Type == domain.EventSecretVersionAdded || ev.Type == domain.EventSecretVersionDestroyed {
		e, err := decodeVersionEvent(ev)
		if err != nil {
			return nil, nil, err
		}
		touched = e.Version
		if sec != nil {
			stateBefore = versionState(sec, touched)
		}
	}
	var err error
	if sec == nil {
		sec, err = domain.LoadSecret([]domain.RecordedEvent{ev})
	} else {
		err = sec.Fold([]domain.RecordedEvent{ev})
	}
	if err != nil {
		return nil, nil, err
	}
	changes := diffMeta(before, metaOf(sec))
	if stateAfter := versionState(sec, touched); stateAfter != stateBefore && stateAfter != "" {
		var from any
		if stateBefore != "" {
			from = stateBefore
		}
		changes[versionChangeKey(touched)] = Change{From: from, To: stateAfter}
	}
	return sec, changes, nil
}

// revealPage is how many events of an access stream one read takes.
const revealPage = 1000

// revealsBetween reads up to limit reveals of a secret recorded in
// (afterPosition, maxPosition], oldest first (limit 0: all of them). The
// access stream is addressed by version, so the range is found by a binary
// search over its versions, not by reading it from the start.
func (q *Secrets) revealsBetween(ctx context.Context, secretID string, afterPosition, maxPosition int64, limit int) ([]domain.RecordedEvent, error) {
	var out []domain.RecordedEvent
	stream := domain.SecretAccessStream(secretID)
	for afterPosition < maxPosition {
		want := revealPage
		if limit > 0 {
			want = limit - len(out)
		}
		events, err := q.svc.log.ReadStreamPositions(ctx, stream, afterPosition, maxPosition, want)
		if err != nil {
			return nil, err
		}
		for _, ev := range events {
			if ev.Type == domain.EventSecretRevealed {
				out = append(out, ev)
			}
		}
		if len(events) < want || (limit > 0 && len(out) >= limit) {
			break
		}
		afterPosition = events[len(events)-1].Position
	}
	return out, nil
}

func entryOf(ev domain.RecordedEvent) HistoryEntry {
	return HistoryEntry{
		Position: ev.Position, EventID: ev.ID, Type: ev.Type, Timestamp: ev.RecordedAt, Actor: actorOf(ev.Metadata),
		IP: ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent, RequestID: ev.Metadata.RequestID,
		Changes: map[string]Change{},
	}
}

func revealEntry(ev domain.RecordedEvent) (HistoryEntry, error) {
	r, err := revealOf(ev)
	if err != nil {
		return HistoryEntry{}, err
	}
	e := entryOf(ev)
	e.RevealedVersion = r.Version
	return e, nil
}

func revealOf(ev domain.RecordedEvent) (domain.SecretRevealed, error) {
	var r domain.SecretRevealed
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		return r, domain.WrapError(domain.EINTERNAL, fmt.Sprintf("decode %s at position %d", ev.Type, ev.Position), err)
	}
	return r, nil
}
