package queries

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/securevault/vault/domain"
)

// maxDigestsInFlight bounds the digests one answer opens at a time. Each
// needs its version's data key; the key store answers concurrent reads
// with one statement, so a page of files costs about one read of keys
// rather than one round trip per file.
const maxDigestsInFlight = 32

// digestJob is one digest an answer shows: the version's, written into
// the answer's field.
type digestJob struct {
	fileID  string
	version domain.FileVersion
	into    *string
}

// openDigests opens the digests of an answer, together. A destroyed
// version (its key is gone, even if the instant asked for still had it
// live) shows none.
func (q *Files) openDigests(ctx context.Context, jobs []digestJob) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxDigestsInFlight)
	for _, j := range jobs {
		g.Go(func() error {
			digest, err := q.digests.FileDigest(ctx, j.fileID, j.version)
			if err != nil {
				return err
			}
			*j.into = digest
			return nil
		})
	}
	return g.Wait()
}
