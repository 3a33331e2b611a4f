package localblob_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/blobtest"
	"github.com/securevault/vault/localblob"
)

func TestContract(t *testing.T) {
	t.Parallel()
	s, err := localblob.New(t.TempDir())
	require.NoError(t, err)
	blobtest.Contract(t, s, 3<<20)
}

func TestHostileKeys(t *testing.T) {
	t.Parallel()
	s, err := localblob.New(t.TempDir())
	require.NoError(t, err)
	for _, key := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", `a\b`, "a/b.partial"} {
		_, err := s.Get(context.Background(), key, 0, -1)
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err), key)
	}
}
