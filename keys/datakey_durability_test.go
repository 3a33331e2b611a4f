package keys

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/keys/internal/keysdb"
)

// TestKeyInsertCommitsWithoutItsOwnFlush: the batched insert turns
// synchronous_commit off for its own transaction only (see
// InsertDataKeys: the append that follows flushes it), and the next
// statement on the connection is back to the server's setting.
func TestKeyInsertCommitsWithoutItsOwnFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTracedStore(t)
	r := ref("durability-owner", 1)
	w := ts.wrap(t, r)
	var inTx string
	require.NoError(t, pgx.BeginFunc(ctx, ts.pool, func(tx pgx.Tx) error {
		if _, err := ts.q.InsertDataKeys(ctx, tx, keysdb.InsertDataKeysParams{
			OwnerIds: []string{r.OwnerID}, Versions: []int64{r.Version}, Providers: []string{w.Provider},
			KeyIds: []string{w.KeyID}, Wrapped: [][]byte{w.Ciphertext},
		}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&inTx)
	}))
	require.Equal(t, "off", inTx)

	require.NoError(t, ts.Put(ctx, "durability-owner", 2, ts.wrap(t, ref("durability-owner", 2))))
	var after string
	require.NoError(t, ts.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&after))
	require.Equal(t, "on", after)
	got, err := ts.Get(ctx, "durability-owner", 2)
	require.NoError(t, err)
	require.Equal(t, w.Provider, got.Provider)
}
