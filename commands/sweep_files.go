package commands

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

// SweepStats reports what one orphan sweep did.
type SweepStats struct {
	Scanned int
	Deleted int
}

// SweepOrphanBlobs deletes blobs no event names that are older than grace:
// uploads that crashed between storing the blob and appending its event,
// or whose cleanup failed. It is safe on several replicas at once: a blob
// is deleted only when the log (read now, after the blob's age passed
// grace) names no live version with that key, and an upload finishes well
// within grace or fails.
func (s *Files) SweepOrphanBlobs(ctx context.Context, grace time.Duration) (SweepStats, error) {
	var st SweepStats
	if err := s.Available(); err != nil {
		return st, err
	}
	cutoff := s.svc.opts.Now().Add(-grace)
	var candidates []string
	err := s.deps.Blobs.List(ctx, "files/", func(key string, modified time.Time) error {
		st.Scanned++
		if modified.Before(cutoff) {
			candidates = append(candidates, key)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	named := map[string]map[string]bool{} // file id -> live blob keys
	for _, key := range candidates {
		id, version, ok := parseBlobKey(key)
		if !ok {
			continue
		}
		live, seen := named[id]
		if !seen {
			live = map[string]bool{}
			f, err := s.load(ctx, id)
			switch {
			case err == nil:
				for _, v := range f.Live() {
					live[v.BlobKey] = true
				}
			case domain.ErrorCode(err) != domain.ENOTFOUND:
				return st, err
			}
			named[id] = live
		}
		if live[key] {
			continue
		}
		if err := s.deps.Blobs.Delete(ctx, key); err != nil {
			return st, err
		}
		st.Deleted++
		s.svc.logger.InfoContext(ctx, "orphan blob deleted", "file_id", id, "version", version)
	}
	return st, nil
}

// parseBlobKey reads files/<id>/<version>-<upload id>.
func parseBlobKey(key string) (string, int64, bool) {
	rest, ok := strings.CutPrefix(key, "files/")
	if !ok {
		return "", 0, false
	}
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || !domain.IsID(id) {
		return "", 0, false
	}
	v, upload, ok := strings.Cut(tail, "-")
	if !ok || !domain.IsID(upload) {
		return "", 0, false
	}
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil || version < 1 {
		return "", 0, false
	}
	return id, version, true
}

// RunOrphanSweep sweeps every interval until ctx ends, logging failures.
func (s *Files) RunOrphanSweep(ctx context.Context, grace, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if st, err := s.SweepOrphanBlobs(ctx, grace); err != nil && ctx.Err() == nil {
			s.svc.logger.WarnContext(ctx, "orphan blob sweep failed", "error", err)
		} else if st.Deleted > 0 {
			s.svc.logger.InfoContext(ctx, "orphan blob sweep", "scanned", st.Scanned, "deleted", st.Deleted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
