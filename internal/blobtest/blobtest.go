// Package blobtest is the contract every blob store (s3blob, localblob)
// keeps, as one test both run.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// Store is what a blob store offers.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error
	Check(ctx context.Context) error
}

// Contract checks put, ranged get, list, delete, a missing key and a failed
// write on s. large is a size that takes several parts where it matters.
func Contract(t *testing.T, s Store, large int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Check(ctx))
	small := []byte("hello, blob")
	big := make([]byte, large)
	_, _ = rand.Read(big)

	n, err := s.Put(ctx, "files/a/1", bytes.NewReader(small))
	require.NoError(t, err)
	require.EqualValues(t, len(small), n)
	n, err = s.Put(ctx, "files/b/1", bytes.NewReader(big))
	require.NoError(t, err)
	require.EqualValues(t, len(big), n)
	_, err = s.Put(ctx, "other/c", bytes.NewReader(small))
	require.NoError(t, err)

	read := func(key string, off, length int64) []byte {
		rc, err := s.Get(ctx, key, off, length)
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return b
	}
	require.Equal(t, small, read("files/a/1", 0, -1))
	require.Equal(t, big, read("files/b/1", 0, -1))
	require.Equal(t, big[1000:1100], read("files/b/1", 1000, 100))
	require.Equal(t, big[len(big)-10:], read("files/b/1", int64(len(big)-10), -1))
	require.Empty(t, read("files/b/1", 5, 0))

	var keys []string
	require.NoError(t, s.List(ctx, "files/", func(key string, modified time.Time) error {
		require.False(t, modified.IsZero())
		keys = append(keys, key)
		return nil
	}))
	slices.Sort(keys)
	require.Equal(t, []string{"files/a/1", "files/b/1"}, keys)

	require.NoError(t, s.Delete(ctx, "files/a/1"))
	require.NoError(t, s.Delete(ctx, "files/a/1"), "deleting twice is fine")
	_, err = s.Get(ctx, "files/a/1", 0, -1)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))

	// A body that fails half way leaves no blob behind.
	_, err = s.Put(ctx, "files/broken/1", io.MultiReader(bytes.NewReader(big), failing{}))
	require.Error(t, err)
	_, err = s.Get(ctx, "files/broken/1", 0, -1)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	keys = nil
	require.NoError(t, s.List(ctx, "files/broken", func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	}))
	require.Empty(t, keys)
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("client went away") }
