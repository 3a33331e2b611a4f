package queries

import (
	"context"

	"github.com/securevault/vault/domain"
)

// listScanPages bounds how many pages one listing examines while skipping
// items the caller may not list (or that did not exist at the instant), so
// a caller who may list few among many gets a short page and a cursor
// instead of a slow one.
const listScanPages = 10

// scanAt walks the streams of aggregate after the cursor stream id and
// offers each to visit, which folds it up to pos and answers whether it kept
// an item (a stream created after pos keeps none). It stops after limit kept
// items or listScanPages catalog pages, and returns the stream id to
// continue after ("" at the end).
func (s *Service) scanAt(ctx context.Context, catalog StreamCatalog, aggregate string, pos int64, after string, limit int,
	visit func(streamID string) (bool, error)) (string, error) {
	if catalog == nil {
		return "", domain.Errorf(domain.EUNAVAILABLE, "listing as of an instant is not configured on this server")
	}
	if pos <= 0 {
		return "", nil
	}
	if err := s.awaitCatalog(ctx, pos); err != nil {
		return "", err
	}
	kept := 0
	for range listScanPages {
		ids, err := catalog.StreamIDs(ctx, aggregate, after, limit)
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

// awaitCatalog waits, bounded, until the stream catalog has applied pos, so
// every stream that existed at pos is listed. Without a waiter (tests of
// one replica) there is nothing to wait for.
func (s *Service) awaitCatalog(ctx context.Context, pos int64) error {
	if s.waiter == nil || pos <= 0 {
		return nil
	}
	return s.waiter.WaitFor(ctx, pos, s.opts.CatalogTimeout, domain.ReadModelStreams)
}
