package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// DeleteFile soft-deletes a file (restorable); it needs `delete` on
// files/<name>. Downloads are refused until it is restored.
// The answer carries no digest: the API answers a delete with 204.
func (s *Files) DeleteFile(ctx context.Context, caller domain.Caller, id string) (FileResult, error) {
	f, w, err := s.change(ctx, caller, id, domain.ActionDelete, (*domain.File).Delete)
	if err != nil {
		return FileResult{}, err
	}
	return FileResult{File: Summary(f), Written: w}, nil
}

// changed is what change wrote: the file as the write left it.
type changed struct {
	file    *domain.File
	written Written
}

// change loads, authorizes, decides and writes, retrying a lost race, and
// returns the file as written. Whatever the caller does after the write
// (shredding, the digest of its answer) comes after it returns, so that
// nothing can fail the write's own follow-up halfway.
func (s *Files) change(ctx context.Context, caller domain.Caller, id, action string, decide func(*domain.File) error) (*domain.File, Written, error) {
	if err := s.Available(); err != nil {
		return nil, Written{}, err
	}
	authorized := false
	res, err := retryConflicts(ctx, func() (changed, error) {
		f, err := s.load(ctx, id)
		if err != nil {
			return changed{}, err
		}
		if !authorized {
			if err := s.svc.access.Authorize(ctx, caller, action, domain.FileResource(f.Name())); err != nil {
				return changed{}, err
			}
			authorized = true
		}
		if err := decide(f.File); err != nil {
			return changed{}, err
		}
		w, err := s.write(ctx, caller, f)
		if err != nil {
			return changed{}, err
		}
		return changed{file: f.File, written: w}, nil
	})
	return res.file, res.written, err
}
