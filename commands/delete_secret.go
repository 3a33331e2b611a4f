package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// DeleteSecret soft-deletes a secret: hidden from lists, reveals and
// rotations refused, restorable. It needs `delete` on secrets/<name>;
// deleting a deleted secret changes nothing.
func (s *Secrets) DeleteSecret(ctx context.Context, caller domain.Caller, id string) (SecretResult, error) {
	return s.setDeleted(ctx, caller, id, true)
}

func (s *Secrets) setDeleted(ctx context.Context, caller domain.Caller, id string, deleted bool) (SecretResult, error) {
	authorized := false
	return retryConflicts(ctx, func() (SecretResult, error) {
		sec, err := s.load(ctx, id)
		if err != nil {
			return SecretResult{}, err
		}
		if !authorized {
			if err := s.svc.access.Authorize(ctx, caller, domain.ActionDelete, domain.SecretResource(sec.Name())); err != nil {
				return SecretResult{}, err
			}
			authorized = true
		}
		if deleted {
			err = sec.Delete()
		} else {
			err = sec.Restore()
		}
		if err != nil {
			return SecretResult{}, err
		}
		w, err := s.write(ctx, caller, sec)
		if err != nil {
			return SecretResult{}, err
		}
		return s.result(ctx, sec.Secret, w)
	})
}
