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

// TestRetiredKeyDeleteCommitsWithoutItsOwnFlush: a batch of DeleteRetired
// calls turns synchronous_commit off for its own transaction; a batch with
// one Delete in it waits for its flush under the server's setting.
func TestRetiredKeyDeleteCommitsWithoutItsOwnFlush(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		flushes []bool // one call per element: Delete (true) or DeleteRetired
		want    string // synchronous_commit inside the delete's transaction
	}{
		{"retired keys only", []bool{false, false}, "off"},
		{"an explicit destruction among them", []bool{false, true, false}, "on"},
		{"explicit destructions only", []bool{true}, "on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ts := newTracedStore(t)
			var calls []*deleteCall
			for i, flush := range tc.flushes {
				r := ref("retired-owner", int64(i+1))
				require.NoError(t, ts.Put(ctx, r.OwnerID, r.Version, ts.wrap(t, r)))
				calls = append(calls, &deleteCall{ctx: ctx, in: deleteRequest{ref: r, flush: flush}, done: make(chan struct{})})
			}
			flush := mustFlush(calls)
			var inTx string
			require.NoError(t, pgx.BeginFunc(ctx, ts.pool, func(tx pgx.Tx) error {
				if _, err := ts.q.DeleteDataKeys(ctx, tx, keysdb.DeleteDataKeysParams{OwnerIds: []string{"retired-owner"}, Versions: []int64{99}, Flush: flush}); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&inTx)
			}))
			require.Equal(t, tc.want, inTx)

			// Through the batch itself: every key is gone, each caller told
			// so, and the connection is back to the server's setting.
			ts.flushDeletes(ctx, calls)
			for _, c := range calls {
				require.NoError(t, c.err)
				require.True(t, c.out)
				_, err := ts.Get(ctx, c.in.ref.OwnerID, c.in.ref.Version)
				require.ErrorIs(t, err, ErrDataKeyNotFound)
			}
			var after string
			require.NoError(t, ts.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&after))
			require.Equal(t, "on", after)
		})
	}
}
