package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// DeleteFile soft-deletes a file (restorable); it needs `delete` on
// files/<name>. Downloads are refused until it is restored.
func (s *Files) DeleteFile(ctx context.Context, caller domain.Caller, id string) (FileResult, error) {
	return s.change(ctx, caller, id, domain.ActionDelete, (*domain.File).Delete)
}

// change loads, authorizes, decides and writes, retrying a lost race.
func (s *Files) change(ctx context.Context, caller domain.Caller, id, action string, decide func(*domain.File) error) (FileResult, error) {
	if err := s.Available(); err != nil {
		return FileResult{}, err
	}
	authorized := false
	return retryConflicts(ctx, func() (FileResult, error) {
		f, err := s.load(ctx, id)
		if err != nil {
			return FileResult{}, err
		}
		if !authorized {
			if err := s.svc.access.Authorize(ctx, caller, action, domain.FileResource(f.Name())); err != nil {
				return FileResult{}, err
			}
			authorized = true
		}
		if err := decide(f.File); err != nil {
			return FileResult{}, err
		}
		w, err := s.write(ctx, caller, f)
		if err != nil {
			return FileResult{}, err
		}
		summary, err := s.withDigest(ctx, f.File)
		if err != nil {
			return FileResult{}, err
		}
		return FileResult{File: summary, Written: w}, nil
	})
}
