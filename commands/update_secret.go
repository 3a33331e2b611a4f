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
		if err := expectVersion(sec.Secret, in.ExpectedVersion); err != nil {
			return SecretResult{}, err
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
