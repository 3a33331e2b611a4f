package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

const maxPage = 10000

// ReadStream returns up to limit events of one stream with version >
// afterVersion, oldest first, upcast to their current schema. Every event's
// link is checked first; an event that fails is never returned.
func (s *Store) ReadStream(ctx context.Context, streamID string, afterVersion int64, limit int) ([]domain.RecordedEvent, error) {
	rows, err := s.queries.ReadStream(ctx, s.pool, esdb.ReadStreamParams{StreamID: streamID, Version: afterVersion, Limit: pageLimit(limit)})
	if err != nil {
		return nil, translate(fmt.Errorf("read stream %s: %w", streamID, err))
	}
	if err := s.checkStream(ctx, afterVersion, rows); err != nil {
		return nil, err
	}
	return s.toRecorded(rows)
}

// ReadStreamUntil is ReadStream limited to events at or below maxPosition:
// the stream as it was when the log ended at maxPosition (time travel).
func (s *Store) ReadStreamUntil(ctx context.Context, streamID string, afterVersion, maxPosition int64, limit int) ([]domain.RecordedEvent, error) {
	rows, err := s.queries.ReadStreamUntilPosition(ctx, s.pool, esdb.ReadStreamUntilPositionParams{
		StreamID: streamID, Version: afterVersion, Position: maxPosition, Limit: pageLimit(limit),
	})
	if err != nil {
		return nil, translate(fmt.Errorf("read stream %s: %w", streamID, err))
	}
	if err := s.checkStream(ctx, afterVersion, rows); err != nil {
		return nil, err
	}
	return s.toRecorded(rows)
}

// ReadAll returns up to limit events with position > afterPosition in
// position order. Positions are gapless and commit in order, so paging by
// the last position seen never skips an event.
//
// The page is read together with the event at afterPosition, so that every
// returned event's previous hash is checked against its predecessor, as
// well as its own link: a page never hands out an event that was changed,
// inserted or whose predecessor was removed.
func (s *Store) ReadAll(ctx context.Context, afterPosition int64, limit int) ([]domain.RecordedEvent, error) {
	from, n := afterPosition, pageLimit(limit)
	if afterPosition > 0 {
		from, n = afterPosition-1, n+1
	}
	rows, err := s.queries.ReadAll(ctx, s.pool, esdb.ReadAllParams{Position: from, Limit: n})
	if err != nil {
		return nil, translate(fmt.Errorf("read log after %d: %w", afterPosition, err))
	}
	if rows, err = s.checkLog(ctx, afterPosition, rows); err != nil {
		return nil, err
	}
	return s.toRecorded(rows)
}

// HeadPosition is the position of the last committed event (0 when empty).
func (s *Store) HeadPosition(ctx context.Context) (int64, error) {
	head, err := s.queries.ChainHead(ctx, s.pool)
	if err != nil {
		return 0, translate(fmt.Errorf("read chain head: %w", err))
	}
	return head.Position, nil
}

// StreamVersion is the version of a stream's last event (0 if it has none).
func (s *Store) StreamVersion(ctx context.Context, streamID string) (int64, error) {
	v, err := s.queries.StreamVersion(ctx, s.pool, streamID)
	if err != nil {
		return 0, translate(fmt.Errorf("read version of %s: %w", streamID, err))
	}
	return v, nil
}

// PositionAt is the last position recorded at or before t: the log as it
// stood at that instant.
func (s *Store) PositionAt(ctx context.Context, t time.Time) (int64, error) {
	p, err := s.queries.LastPositionAt(ctx, s.pool, pgtype.Timestamptz{Time: t, Valid: true})
	if err != nil {
		return 0, translate(fmt.Errorf("find position at %s: %w", t.Format(time.RFC3339), err))
	}
	// The index answered from recorded_at alone; the events on either side
	// of the answer are read through their links, so a forged time cannot
	// move an instant of time travel.
	around, err := s.ReadAll(ctx, max(p-1, 0), 2)
	if err != nil {
		return 0, err
	}
	for _, ev := range around {
		if (ev.Position <= p) != !ev.RecordedAt.After(t) {
			return 0, s.tampered(ev.Position, "the recorded-at index disagrees with the event's authenticated time")
		}
	}
	return p, nil
}

func pageLimit(limit int) int32 {
	if limit <= 0 || limit > maxPage {
		return maxPage
	}
	return int32(limit)
}

func (s *Store) toRecorded(rows []esdb.Event) ([]domain.RecordedEvent, error) {
	out := make([]domain.RecordedEvent, 0, len(rows))
	for _, r := range rows {
		ev := domain.RecordedEvent{
			Position:      r.Position,
			StreamID:      r.StreamID,
			Version:       r.Version,
			ID:            uuidString(r.EventID),
			Type:          r.Type,
			SchemaVersion: int(r.SchemaVersion),
			Data:          json.RawMessage(r.Data),
			RecordedAt:    r.RecordedAt.Time.UTC(),
			Hash:          r.Hash,
		}
		if err := json.Unmarshal(r.Metadata, &ev.Metadata); err != nil {
			return nil, fmt.Errorf("decode metadata of event %d: %w", r.Position, err)
		}
		if err := s.upcast(&ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func (s *Store) upcast(ev *domain.RecordedEvent) error {
	up, ok := s.opts.Upcasters[ev.Type]
	if !ok {
		return nil
	}
	for range 100 {
		version, data, err := up(ev.SchemaVersion, ev.Data)
		if err != nil {
			return fmt.Errorf("upcast %s v%d at position %d: %w", ev.Type, ev.SchemaVersion, ev.Position, err)
		}
		if version == ev.SchemaVersion {
			return nil
		}
		ev.SchemaVersion, ev.Data = version, data
	}
	return fmt.Errorf("upcast %s at position %d does not converge", ev.Type, ev.Position)
}

func uuidString(u pgtype.UUID) string {
	b := u.Bytes
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
