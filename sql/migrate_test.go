package sql_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/pgtest"
	vaultsql "github.com/securevault/vault/sql"
)

func TestMigrationsApplyOnceAndLeaveNothingPending(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	pending, err := vaultsql.Pending(context.Background(), db.Pool)
	require.NoError(t, err)
	require.False(t, pending)
}
