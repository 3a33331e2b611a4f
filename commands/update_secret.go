package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// UpdateSecretInput edits a secret's metadata. A nil field keeps what the
// secret has. ExpectedVersion, when set, is the current value version the
// caller last saw (If-Match, the ETag of a GET): the edit happens only if
// it still is.
type UpdateSecretInput struct {
	ID              string
	Description     *string
	Tags            *[]string
	ExpectedVersion *int64
}

// UpdateSecret replaces description and tags (SecretMetadataUpdated). It
// needs `write` on secrets/<name>; an edit that changes nothing records
// nothing.
func (s *Secrets) UpdateSecret(ctx context.Context, caller domain.Caller, in UpdateSecretInput) (SecretResult, error) {
	authorized := false
	attempt := func() (SecretResult, error) {
		sec, err := s.load(ctx, in.ID)
		if err != nil {
			return SecretResult{}, err
		}
		if !authorized {
			if err := s.svc.access.Authorize(ctx, caller, domain.ActionWrite, domain.SecretResource(sec.Name())); err != nil {
				return SecretResult{}, err
			}
			authorized = true
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != sec.CurrentVersion() {
			return SecretResult{}, domain.Errorf(domain.EPRECONDITION,
				"secret %s is at version %d, not the expected %d", sec.Name(), sec.CurrentVersion(), *in.ExpectedVersion)
		}
		description, tags := sec.Description(), sec.Tags()
		if in.Description != nil {
			description = *in.Description
		}
		if in.Tags != nil {
			tags = *in.Tags
		}
		if err := sec.UpdateMetadata(description, tags); err != nil {
			return SecretResult{}, err
		}
		w, err := s.write(ctx, caller, sec)
		if err != nil {
			return SecretResult{}, err
		}
		return s.result(ctx, sec.Secret, w)
	}
	return conditional(ctx, in.ExpectedVersion != nil, attempt)
}

// conditional runs a write once when it is check-and-set (a lost race then
// means the expected version is gone: EPRECONDITION), and retries lost
// races otherwise.
func conditional[T any](ctx context.Context, checkAndSet bool, attempt func() (T, error)) (T, error) {
	if !checkAndSet {
		return retryConflicts(ctx, attempt)
	}
	res, err := attempt()
	if domain.ErrorCode(err) == domain.ECONFLICT {
		var zero T
		return zero, domain.WrapError(domain.EPRECONDITION, "the secret changed concurrently; fetch it and retry", err)
	}
	return res, err
}
