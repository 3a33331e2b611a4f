package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/seal"
	"github.com/securevault/vault/streamseal"
)

// UploadFileInput is a new file and its first content, read from Body as it
// streams in (never held whole).
type UploadFileInput struct {
	Name        string
	Description string
	Tags        []string
	ContentType string
	Body        io.Reader
}

// UploadFile needs `write` on files/<name>. The sealed blob is stored
// before the events that name it; a failed or aborted upload appends
// nothing and removes its blob (or leaves it to the orphan sweep).
func (s *Files) UploadFile(ctx context.Context, caller domain.Caller, in UploadFileInput) (FileResult, error) {
	if err := s.Available(); err != nil {
		return FileResult{}, err
	}
	name, err := domain.NormalizeSecretName(in.Name)
	if err != nil {
		return FileResult{}, err
	}
	ct, err := domain.NormalizeContentType(in.ContentType)
	if err != nil {
		return FileResult{}, err
	}
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionWrite, domain.FileResource(name)); err != nil {
		return FileResult{}, err
	}
	id := domain.NewID()
	f, err := domain.NewFile(id, name, in.Description, in.Tags)
	if err != nil {
		return FileResult{}, err
	}
	stored, digest, err := s.store(ctx, id, f.NextVersion(), in.Body, true)
	if err != nil {
		return FileResult{}, err
	}
	stored.ContentType = ct
	if err := f.AddVersion(stored); err != nil {
		s.cleanup(ctx, id, stored.Version, stored.BlobKey, true)
		return FileResult{}, err
	}
	w, err := s.write(ctx, caller, loadedFile{File: f}, domain.NewFileNameReservation(name, id, caller.Metadata()))
	if err != nil {
		s.cleanup(ctx, id, stored.Version, stored.BlobKey, true)
		if domain.ErrorCode(err) == domain.ECONFLICT {
			return FileResult{}, domain.WrapError(domain.ECONFLICT, "a file named "+name+" already exists", err)
		}
		return FileResult{}, err
	}
	summary := Summary(f)
	summary.SHA256 = digest
	return FileResult{File: summary, Written: w}, nil
}

// store seals body under the data key of (id, version) into a new blob and
// returns the version's event, content type aside, and the hex digest of
// the plaintext it read (the event holds it sealed). newFile says the id
// is fresh, so a failure may delete the key too (see cleanup).
func (s *Files) store(ctx context.Context, id string, version int64, body io.Reader, newFile bool) (domain.FileVersionAdded, string, error) {
	dk, err := s.sealer.NewKey(ctx, id, version)
	if err != nil {
		return domain.FileVersionAdded{}, "", err
	}
	defer envelope.Zero(dk)
	blobKey := domain.BlobKey(id, version, domain.NewID())
	digest := sha256.New()
	limited := &maxReader{r: body, left: s.deps.MaxBytes, max: s.deps.MaxBytes, h: digest}

	pr, pw := io.Pipe()
	sealed := make(chan error, 1)
	go func() {
		w, err := streamseal.NewWriter(pw, dk, contentRef(id, version).AAD())
		if err == nil {
			_, err = io.Copy(w, limited)
			if err == nil {
				err = w.Close()
			}
		}
		sealed <- err
		pw.CloseWithError(err) // nil: EOF for the blob store
	}()
	n, putErr := s.deps.Blobs.Put(ctx, blobKey, pr)
	pr.CloseWithError(errors.New("blob store stopped reading"))
	sealErr := <-sealed
	if sealErr != nil || putErr != nil {
		s.cleanup(ctx, id, version, blobKey, newFile)
		if sealErr != nil {
			if domain.ErrorCode(sealErr) == domain.ETOOLARGE || ctx.Err() != nil {
				return domain.FileVersionAdded{}, "", sealErr
			}
			return domain.FileVersionAdded{}, "", domain.WrapError(domain.EINVALID, "the upload could not be read to its end", sealErr)
		}
		return domain.FileVersionAdded{}, "", putErr
	}
	size := limited.max - limited.left
	if n != streamseal.SealedSize(size) {
		s.cleanup(ctx, id, version, blobKey, newFile)
		return domain.FileVersionAdded{}, "", domain.Errorf(domain.EINTERNAL, "stored %d bytes of a %d-byte sealed file", n, streamseal.SealedSize(size))
	}
	sum := digest.Sum(nil)
	sealedDigest, err := seal.SealFileDigest(dk, id, version, sum)
	if err != nil {
		s.cleanup(ctx, id, version, blobKey, newFile)
		return domain.FileVersionAdded{}, "", err
	}
	return domain.FileVersionAdded{
		Version: version, BlobKey: blobKey, Size: size, SealedSize: n,
		SealedSHA256: sealedDigest, KeyProvider: s.deps.KeyProvider,
	}, hex.EncodeToString(sum), nil
}

// maxReader counts and hashes what it reads and fails past max bytes.
type maxReader struct {
	r         io.Reader
	left, max int64
	h         hash.Hash
}

func (m *maxReader) Read(p []byte) (int, error) {
	if m.left < 0 {
		return 0, domain.Errorf(domain.ETOOLARGE, "a file may be at most %d bytes", m.max)
	}
	if int64(len(p)) > m.left+1 {
		p = p[:m.left+1]
	}
	n, err := m.r.Read(p)
	m.left -= int64(n)
	if m.left < 0 {
		return 0, domain.Errorf(domain.ETOOLARGE, "a file may be at most %d bytes", m.max)
	}
	m.h.Write(p[:n])
	return n, err
}
