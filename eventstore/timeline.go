package eventstore

import (
	"context"
	"fmt"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

// ReadStreamPositions returns up to limit events of one stream with a
// position in (afterPosition, maxPosition], oldest first. It finds where the
// range starts by a binary search over the stream's versions (index probes),
// so its cost does not grow with the events before afterPosition: a page of
// a long stream addressed by position costs the page.
func (s *Store) ReadStreamPositions(ctx context.Context, streamID string, afterPosition, maxPosition int64, limit int) ([]domain.RecordedEvent, error) {
	if maxPosition <= afterPosition {
		return nil, nil
	}
	rows, err := s.queries.ReadStreamPositionRange(ctx, s.pool, esdb.ReadStreamPositionRangeParams{
		StreamID: streamID, AfterPosition: afterPosition, UntilPosition: maxPosition, MaxEvents: pageLimit(limit),
	})
	if err != nil {
		return nil, translate(fmt.Errorf("read stream %s after position %d: %w", streamID, afterPosition, err))
	}
	return s.toRecorded(rows)
}

// ReadStreamVersions returns the events of one stream at the given versions
// (those that exist), oldest first.
func (s *Store) ReadStreamVersions(ctx context.Context, streamID string, versions []int64) ([]domain.RecordedEvent, error) {
	if len(versions) == 0 {
		return nil, nil
	}
	if len(versions) > maxPage {
		return nil, domain.Errorf(domain.EINTERNAL, "at most %d versions per read, not %d", maxPage, len(versions))
	}
	rows, err := s.queries.ReadStreamVersions(ctx, s.pool, esdb.ReadStreamVersionsParams{StreamID: streamID, Versions: versions})
	if err != nil {
		return nil, translate(fmt.Errorf("read versions of stream %s: %w", streamID, err))
	}
	return s.toRecorded(rows)
}
