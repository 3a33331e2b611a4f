package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// DestroyFileVersion crypto-shreds one version; it needs `destroy` on
// files/<name>. The event comes first, then the data key is deleted (the
// version can never be decrypted again), then every blob of the version. A
// failure after the event leaves a key or blob nothing will read, and
// destroying again finishes the job.
func (s *Files) DestroyFileVersion(ctx context.Context, caller domain.Caller, id string, version int64) (FileResult, error) {
	f, w, err := s.change(ctx, caller, id, domain.ActionDestroy, func(f *domain.File) error { return f.DestroyVersion(version) })
	if err != nil {
		return FileResult{}, err
	}
	if err := s.sealer.Shred(ctx, id, version); err != nil {
		return FileResult{}, err
	}
	var keys []string
	err = s.deps.Blobs.List(ctx, domain.BlobKeyVersionPrefix(id, version), func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return FileResult{}, err
	}
	for _, key := range keys {
		if err := s.deps.Blobs.Delete(ctx, key); err != nil {
			return FileResult{}, err
		}
	}
	// Last: the answer's digest (of the current version, if it is not the
	// one destroyed) must not stand between the event and the shredding.
	summary, err := s.withDigest(ctx, f)
	if err != nil {
		return FileResult{}, err
	}
	return FileResult{File: summary, Written: w}, nil
}
