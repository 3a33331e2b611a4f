package commands

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/streamseal"
)

// DownloadFileInput names what to send: a version (0: the current one)
// and a byte range of its plaintext (Length < 0: to the end).
type DownloadFileInput struct {
	ID      string
	Version int64
	// Range, when set, asks for bytes [Offset, Offset+Length) of the
	// plaintext; the handler resolved it against the size from Stat.
	Offset, Length int64
}

// FileDownload is a verified plaintext stream of one version. Body
// releases only verified bytes and fails (streamseal.ErrAuth) on a changed
// or cut blob; the caller must then abort its output. Close it.
type FileDownload struct {
	// File is the file's Summary: its digest is left out (the response
	// does not carry it).
	File    domain.FileSummary
	Version domain.FileVersion
	Offset  int64
	Length  int64
	Body    io.ReadCloser
	Written Written
}

// StatFile is the version a download would send, after the same checks,
// without auditing anything: the API needs the size to resolve a Range.
func (s *Files) StatFile(ctx context.Context, caller domain.Caller, id string, version int64) (domain.FileVersion, error) {
	_, v, err := s.downloadable(ctx, caller, id, version)
	return v, err
}

func (s *Files) downloadable(ctx context.Context, caller domain.Caller, id string, version int64) (loadedFile, domain.FileVersion, error) {
	if err := s.Available(); err != nil {
		return loadedFile{}, domain.FileVersion{}, err
	}
	if version < 0 {
		return loadedFile{}, domain.FileVersion{}, domain.Errorf(domain.EINVALID, "version must be positive")
	}
	f, err := s.load(ctx, id)
	if err != nil {
		return loadedFile{}, domain.FileVersion{}, err
	}
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionReveal, domain.FileResource(f.Name())); err != nil {
		return loadedFile{}, domain.FileVersion{}, err
	}
	v, err := f.Downloadable(version)
	return f, v, err
}

// DownloadFile needs `reveal` on files/<name>. The FileDownloaded event is
// appended before any byte is returned: if it cannot be written the
// download is refused.
func (s *Files) DownloadFile(ctx context.Context, caller domain.Caller, in DownloadFileInput) (FileDownload, error) {
	f, v, err := s.downloadable(ctx, caller, in.ID, in.Version)
	if err != nil {
		return FileDownload{}, err
	}
	offset, length := in.Offset, in.Length
	if length < 0 {
		length = v.Size - offset
	}
	if offset < 0 || length < 0 || offset+length > v.Size {
		return FileDownload{}, domain.Errorf(domain.EINVALID, "range outside the file's %d bytes", v.Size)
	}
	dk, err := s.sealer.Key(ctx, f.ID(), v.Version)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return FileDownload{}, domain.WrapError(domain.EINTERNAL, "the data key of a live file version is missing", err)
		}
		return FileDownload{}, err
	}
	res, err := s.svc.log.AppendStreams(ctx, domain.StreamAppend{
		StreamID: domain.FileAccessStream(f.ID()),
		Expected: domain.ExpectAny,
		Events:   []domain.NewEvent{domain.NewFileDownloadedEvent(f.ID(), v.Version, offset, length, caller.Metadata())},
	})
	if err != nil {
		envelope.Zero(dk)
		return FileDownload{}, domain.WrapError(domain.EUNAVAILABLE, "the download could not be audited, so it was refused; retry later", err)
	}
	body, err := s.open(ctx, f.ID(), v, dk, offset, length)
	if err != nil {
		envelope.Zero(dk)
		return FileDownload{}, err
	}
	return FileDownload{
		File: Summary(f.File), Version: v, Offset: offset, Length: length, Body: body,
		Written: Written{Position: res.LastPosition},
	}, nil
}

// open reads the segments holding [offset, offset+length) and returns
// exactly those plaintext bytes, verified segment by segment.
func (s *Files) open(ctx context.Context, id string, v domain.FileVersion, dk []byte, offset, length int64) (io.ReadCloser, error) {
	header, err := s.readHeader(ctx, v.BlobKey)
	if err != nil {
		return nil, err
	}
	first := offset / streamseal.SegmentSize
	last := first
	if length > 0 {
		last = (offset + length - 1) / streamseal.SegmentSize
	}
	start := streamseal.SegmentOffset(first)
	end := min(streamseal.SegmentOffset(last+1), v.SealedSize)
	blob, err := s.deps.Blobs.Get(ctx, v.BlobKey, start, end-start)
	if err != nil {
		return nil, blobReadError(err)
	}
	rc := newReadAhead(blob)
	r, err := streamseal.NewSegmentReader(header, rc, dk, contentRef(id, v.Version).AAD(), first, v.Size)
	if err != nil {
		_ = rc.Close()
		return nil, domain.WrapError(domain.EINTERNAL, "the stored file failed verification", err)
	}
	if _, err := io.CopyN(io.Discard, r, offset-first*streamseal.SegmentSize); err != nil {
		_ = rc.Close()
		return nil, domain.WrapError(domain.EINTERNAL, "the stored file failed verification", err)
	}
	return &plainBody{r: io.LimitReader(r, length), want: length, closer: rc, key: dk}, nil
}

func (s *Files) readHeader(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.deps.Blobs.Get(ctx, key, 0, streamseal.HeaderSize)
	if err != nil {
		return nil, blobReadError(err)
	}
	defer rc.Close()
	b := make([]byte, streamseal.HeaderSize)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "the stored file failed verification", fmt.Errorf("%w: header: %v", streamseal.ErrAuth, err))
	}
	h, err := streamseal.Header(b)
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "the stored file failed verification", err)
	}
	return h, nil
}

// blobReadError: a live version's blob that is missing is the vault's
// fault, never the caller's.
func blobReadError(err error) error {
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.WrapError(domain.EINTERNAL, "the blob of a live file version is missing", err)
	}
	return err
}

// plainBody ends with an error, never a short EOF, when fewer than want
// bytes came out, and zeroes the data key when closed.
type plainBody struct {
	r      io.Reader
	want   int64
	got    int64
	closer io.Closer
	key    []byte
}

func (p *plainBody) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.got += int64(n)
	if errors.Is(err, io.EOF) && p.got < p.want {
		return n, fmt.Errorf("%w: %d of %d bytes", streamseal.ErrAuth, p.got, p.want)
	}
	return n, err
}

func (p *plainBody) Close() error {
	envelope.Zero(p.key)
	return p.closer.Close()
}
