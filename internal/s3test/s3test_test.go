package s3test_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Run(m)) }

// CI builds the same versitygw release the tests would build.
func TestCIPinsTheSameVersion(t *testing.T) {
	t.Parallel()
	run, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	require.Contains(t, string(run), "S3_VERSION="+s3test.Version+"\n")
}

// Each test gets a bucket of its own on the one server.
func TestBucketsAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := s3test.New(t), s3test.New(t)
	require.NotEqual(t, a.Name, b.Name)
	require.Equal(t, a.Endpoint, b.Endpoint)
	_, err := os.Stat(a.Path(""))
	require.NoError(t, err)
}
