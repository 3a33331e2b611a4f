package commands

import (
	"context"
	"io"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/seal"
)

// DefaultMaxFileBytes is the largest file version accepted unless
// configured otherwise (VAULT_MAX_FILE_BYTES).
const DefaultMaxFileBytes int64 = 5 << 30

// BlobStore keeps sealed file contents; *s3blob.Store and *localblob.Store
// satisfy it. It only ever sees ciphertext.
type BlobStore interface {
	// Put streams r into key; a failed Put leaves no blob under key.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get reads length bytes from offset (length < 0: to the end).
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn with every key under prefix and its write time.
	List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error
}

// FileDeps are what file commands need besides the shared Service.
type FileDeps struct {
	DataKeys seal.DataKeys
	// Blobs is nil when no storage is configured (production without
	// S3_BUCKET): every file command then refuses with Unconfigured.
	Blobs BlobStore
	// Unconfigured says why Blobs is nil, for the refusal.
	Unconfigured string
	KeyProvider  string
	// MaxBytes bounds one version's plaintext; zero means
	// DefaultMaxFileBytes.
	MaxBytes int64
}

// Files is the file command set (downloads included: they append).
type Files struct {
	svc    *Service
	deps   FileDeps
	sealer *seal.Sealer
}

// NewFiles returns the file handlers.
func NewFiles(svc *Service, deps FileDeps) (*Files, error) {
	if svc == nil || deps.DataKeys == nil || deps.KeyProvider == "" {
		return nil, domain.Errorf(domain.EINTERNAL, "files need a service, a data key store and the key provider name")
	}
	if deps.MaxBytes == 0 {
		deps.MaxBytes = DefaultMaxFileBytes
	}
	if deps.MaxBytes < 0 {
		return nil, domain.Errorf(domain.EINVALID, "the largest file must be positive")
	}
	if deps.Blobs == nil && deps.Unconfigured == "" {
		deps.Unconfigured = "file storage is not configured"
	}
	sealer, err := seal.New(deps.DataKeys)
	if err != nil {
		return nil, err
	}
	return &Files{svc: svc, deps: deps, sealer: sealer}, nil
}

// MaxBytes is the largest version accepted, for the API's early 413.
func (s *Files) MaxBytes() int64 { return s.deps.MaxBytes }

// Available refuses every file command when no blob storage is configured.
func (s *Files) Available() error {
	if s.deps.Blobs == nil {
		return domain.Errorf(domain.EUNAVAILABLE, "%s", s.deps.Unconfigured)
	}
	return nil
}

// FileResult is what a file write returns.
type FileResult struct {
	File    domain.FileSummary
	Written Written
}

type loadedFile struct {
	*domain.File
	position int64
}

func (s *Files) load(ctx context.Context, id string) (loadedFile, error) {
	if !domain.IsID(id) {
		return loadedFile{}, domain.Errorf(domain.ENOTFOUND, "file not found")
	}
	f, position, err := fold.Latest(ctx, s.svc.fold, domain.StreamID(domain.FileAggregate, id), domain.LoadFile, domain.RestoreFile)
	if err != nil {
		return loadedFile{}, err
	}
	return loadedFile{File: f, position: position}, nil
}

func contentRef(id string, version int64) seal.Ref {
	return seal.Ref{Purpose: seal.FileContent, OwnerID: id, Version: version}
}

func (s *Files) write(ctx context.Context, caller domain.Caller, f loadedFile, extra ...domain.StreamAppend) (Written, error) {
	if len(f.Changes()) == 0 && len(extra) == 0 {
		return Written{Position: f.position}, nil
	}
	appends := append([]domain.StreamAppend{f.StreamAppend(caller.Metadata())}, extra...)
	w, err := s.svc.appendEvents(ctx, appends...)
	if err != nil {
		return Written{}, err
	}
	f.Committed()
	return w, nil
}

// Summary is a file's metadata as the aggregate knows it (the API's answer
// to a write); created and updated come from the queries. It leaves out
// the current version's digest, which only that version's data key opens
// (withDigest).
func Summary(f *domain.File) domain.FileSummary {
	state := domain.FileStateActive
	if f.Deleted() {
		state = domain.FileStateDeleted
	}
	tags := f.Tags()
	if tags == nil {
		tags = []string{}
	}
	out := domain.FileSummary{
		ID: f.ID(), Name: f.Name(), Description: f.Description(), Tags: tags,
		CurrentVersion: f.CurrentVersion(), VersionCount: int64(len(f.Live())), State: state,
	}
	if cur, ok := f.CurrentLive(); ok {
		out.Size, out.ContentType = cur.Size, cur.ContentType
	}
	return out
}

// withDigest is Summary with the current version's digest, opened with its
// data key.
func (s *Files) withDigest(ctx context.Context, f *domain.File) (domain.FileSummary, error) {
	out := Summary(f)
	if cur, ok := f.CurrentLive(); ok {
		digest, err := s.sealer.FileDigest(ctx, f.ID(), cur)
		if err != nil {
			return domain.FileSummary{}, err
		}
		out.SHA256 = digest
	}
	return out, nil
}

// cleanup removes what a version that never got its event left behind:
// its blob, which nothing names (a failure leaves it to the orphan sweep),
// and, for a new file only, its data key. A new version's key is bound to
// (file id, version), which a concurrent new version of the same file may
// have adopted and recorded (seal.Sealer.NewKey), so it is left: an unused
// key row is harmless, and the next attempt at that version adopts it.
func (s *Files) cleanup(ctx context.Context, id string, version int64, blobKey string, newFile bool) {
	ctx = context.WithoutCancel(ctx)
	if err := s.deps.Blobs.Delete(ctx, blobKey); err != nil {
		s.svc.logger.WarnContext(ctx, "could not delete an unused blob", "file_id", id, "version", version, "error", err)
	}
	if !newFile {
		return
	}
	if err := s.sealer.Shred(ctx, id, version); err != nil {
		s.svc.logger.WarnContext(ctx, "could not delete an unused data key", "file_id", id, "version", version, "error", err)
	}
}
