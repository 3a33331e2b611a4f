package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// DestroySecretVersion destroys one version for good. It needs `destroy` on
// secrets/<name>. SecretVersionDestroyed is appended first, so the audit
// trail never lags the shredding; then the data key is deleted, which makes
// the ciphertext in the immutable log unreadable. Destroying a destroyed
// version appends nothing and deletes the key again, so a retry after a
// crash between the two steps completes the job.
func (s *Secrets) DestroySecretVersion(ctx context.Context, caller domain.Caller, id string, version int64) (Written, error) {
	if version < 1 {
		return Written{}, domain.Errorf(domain.EINVALID, "version must be positive")
	}
	authorized := false
	w, err := retryConflicts(ctx, func() (Written, error) {
		sec, err := s.load(ctx, id)
		if err != nil {
			return Written{}, err
		}
		if !authorized {
			if err := s.svc.access.Authorize(ctx, caller, domain.ActionDestroy, domain.SecretResource(sec.Name())); err != nil {
				return Written{}, err
			}
			authorized = true
		}
		if err := sec.DestroyVersion(version); err != nil {
			return Written{}, err
		}
		return s.write(ctx, caller, sec)
	})
	if err != nil {
		return Written{}, err
	}
	// An explicit destruction waits for the delete to be on disk: its
	// answer says the key is gone.
	if err := s.sealer.Shred(ctx, id, version); err != nil {
		return Written{}, domain.WrapError(domain.EUNAVAILABLE, "the version is destroyed but its key could not be deleted yet; retry to finish", err)
	}
	return w, nil
}
