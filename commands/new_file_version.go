package commands

import (
	"context"
	"io"

	"github.com/securevault/vault/domain"
)

// NewFileVersionInput is the next content of a file. ExpectedVersion, when
// set, is the current version the caller last saw (If-Match): the new
// version is recorded only if it still is.
type NewFileVersionInput struct {
	ID              string
	ContentType     string
	Body            io.Reader
	ExpectedVersion *int64
}

// NewFileVersion needs `write` on files/<name>. The content is stored
// before its event; when a concurrent change took the version meanwhile,
// the blob is removed and the caller gets 409 (or 412 with If-Match).
func (s *Files) NewFileVersion(ctx context.Context, caller domain.Caller, in NewFileVersionInput) (FileResult, error) {
	if err := s.Available(); err != nil {
		return FileResult{}, err
	}
	ct, err := domain.NormalizeContentType(in.ContentType)
	if err != nil {
		return FileResult{}, err
	}
	f, err := s.load(ctx, in.ID)
	if err != nil {
		return FileResult{}, err
	}
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionWrite, domain.FileResource(f.Name())); err != nil {
		return FileResult{}, err
	}
	if err := f.CheckWritable(); err != nil {
		return FileResult{}, err
	}
	if err := checkFileVersion(f.File, in.ExpectedVersion); err != nil {
		return FileResult{}, err
	}
	stored, digest, err := s.store(ctx, f.ID(), f.NextVersion(), in.Body, false)
	if err != nil {
		return FileResult{}, err
	}
	stored.ContentType = ct
	if err := f.AddVersion(stored); err != nil {
		s.cleanup(ctx, f.ID(), stored.Version, stored.BlobKey, false)
		return FileResult{}, err
	}
	w, err := s.write(ctx, caller, f)
	if err != nil {
		s.cleanup(ctx, f.ID(), stored.Version, stored.BlobKey, false)
		if domain.ErrorCode(err) == domain.ECONFLICT && in.ExpectedVersion != nil {
			return FileResult{}, domain.WrapError(domain.EPRECONDITION, "the file changed meanwhile", err)
		}
		return FileResult{}, err
	}
	summary := Summary(f.File)
	summary.SHA256 = digest
	return FileResult{File: summary, Written: w}, nil
}

func checkFileVersion(f *domain.File, expected *int64) error {
	if expected != nil && *expected != f.CurrentVersion() {
		return domain.Errorf(domain.EPRECONDITION, "file %s is at version %d, not the expected %d", f.Name(), f.CurrentVersion(), *expected)
	}
	return nil
}
