package s3blob_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/blobtest"
	"github.com/securevault/vault/internal/s3test"
	"github.com/securevault/vault/s3blob"
)

func TestMain(m *testing.M) { os.Exit(s3test.Run(m)) }

func TestContract(t *testing.T) {
	t.Parallel()
	b := s3test.New(t)
	s, err := s3blob.New(context.Background(), b.Config())
	require.NoError(t, err)
	// Over two parts: a multipart upload.
	blobtest.Contract(t, s, 2*s3blob.PartSize+1234)
}

func TestEmptyBucketIsRefused(t *testing.T) {
	t.Parallel()
	_, err := s3blob.New(context.Background(), s3blob.Config{})
	require.Error(t, err)
}
