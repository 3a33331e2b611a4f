// Package localblob stores blobs (sealed file contents) as files under a
// local directory, for development without an S3 bucket. A blob appears
// under its key only once completely written (temporary file, fsync,
// rename), so a failed write leaves nothing that looks stored.
package localblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

const tmpSuffix = ".partial"

// Store is a directory of blobs.
type Store struct {
	root string
}

// New returns a Store under dir, creating it (0700) if needed.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, domain.Errorf(domain.EINVALID, "blob directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localblob: create %s: %w", dir, err)
	}
	return &Store{root: dir}, nil
}

func (s *Store) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.HasSuffix(key, tmpSuffix) {
		return "", domain.Errorf(domain.EINVALID, "invalid blob key")
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return "", domain.Errorf(domain.EINVALID, "invalid blob key")
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put writes r to key and returns the bytes stored.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, storageError("create blob directory", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".*"+tmpSuffix)
	if err != nil {
		return 0, storageError("create blob", err)
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx: ctx, r: r})
	if err != nil {
		return n, storageError("write blob", err)
	}
	if err := f.Sync(); err != nil {
		return n, storageError("sync blob", err)
	}
	if err := f.Close(); err != nil {
		return n, storageError("close blob", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return n, storageError("publish blob", err)
	}
	done = true
	return n, nil
}

// Get reads length bytes of key from offset (length < 0: to the end).
func (s *Store) Get(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p) //nolint:gosec // G304: p is a checked key under the store's root (no empty, dot or dot-dot segment)
	if err != nil {
		return nil, storageError("read blob", err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, storageError("read blob", err)
	}
	if length < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return storageError("delete blob", err)
	}
	return nil
}

// List calls fn with every complete blob under prefix and when it was
// written. Temporary files of writes in progress are not blobs.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error {
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || strings.HasSuffix(p, tmpSuffix) {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return fn(key, info.ModTime())
	})
	if err != nil {
		return storageError("list blobs", err)
	}
	return nil
}

// Check reports whether the directory is there.
func (s *Store) Check(context.Context) error {
	if _, err := os.Stat(s.root); err != nil {
		return storageError("reach blob directory", err)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func storageError(op string, err error) error {
	var appErr *domain.Error
	if errors.As(err, &appErr) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return domain.WrapError(domain.EUNAVAILABLE, "blob storage unavailable", fmt.Errorf("%s: %w", op, err))
	case errors.Is(err, fs.ErrNotExist):
		return domain.WrapError(domain.ENOTFOUND, "blob not found", fmt.Errorf("%s: %w", op, err))
	}
	return domain.WrapError(domain.EUNAVAILABLE, "blob storage failed", fmt.Errorf("%s: %w", op, err))
}
