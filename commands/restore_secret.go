package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RestoreSecret undoes a soft delete. It needs `delete` on secrets/<name>,
// the action that could have deleted it; restoring an active secret changes
// nothing.
func (s *Secrets) RestoreSecret(ctx context.Context, caller domain.Caller, id string) (SecretResult, error) {
	return s.setDeleted(ctx, caller, id, false)
}
