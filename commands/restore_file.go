package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RestoreFile undoes a soft delete; it needs `delete` on files/<name>, as
// for secrets.
func (s *Files) RestoreFile(ctx context.Context, caller domain.Caller, id string) (FileResult, error) {
	f, w, err := s.change(ctx, caller, id, domain.ActionDelete, (*domain.File).Restore)
	if err != nil {
		return FileResult{}, err
	}
	summary, err := s.withDigest(ctx, f)
	if err != nil {
		return FileResult{}, err
	}
	return FileResult{File: summary, Written: w}, nil
}
