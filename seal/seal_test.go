package seal_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/seal"
)

func newSealer(t *testing.T) (*seal.Sealer, *keys.Store) {
	t.Helper()
	db := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	root, err := envelope.NewDataKey()
	require.NoError(t, err)
	kr, err := keys.NewKeyring(context.Background(), db.Pool, root, logger, keys.KeyringOptions{})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	store := keys.NewStore(db.Pool, kr, logger)
	s, err := seal.New(store)
	require.NoError(t, err)
	return s, store
}

func TestSealOpenShred(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, store := newSealer(t)
	owner, other := domain.NewID(), domain.NewID()
	ref := seal.Ref{Purpose: seal.PasswordHash, OwnerID: owner, Version: 1}
	sealed, err := s.Seal(ctx, ref, []byte("$argon2id$v=19$..."))
	require.NoError(t, err)
	plain, err := s.Open(ctx, ref, sealed)
	require.NoError(t, err)
	require.Equal(t, "$argon2id$v=19$...", string(plain))

	t.Run("bound to purpose, owner and version", func(t *testing.T) {
		for _, moved := range []seal.Ref{
			{Purpose: seal.SecretValue, OwnerID: owner, Version: 1},
			{Purpose: seal.PasswordHash, OwnerID: other, Version: 1},
			{Purpose: seal.PasswordHash, OwnerID: owner, Version: 2},
		} {
			_, _ = s.Seal(ctx, moved, []byte("x")) // make the key exist
			_, err := s.Open(ctx, moved, sealed)
			require.Error(t, err, "%+v", moved)
		}
	})

	t.Run("secret values keep the AAD they always had", func(t *testing.T) {
		id := domain.NewID()
		v, err := s.Seal(ctx, seal.Ref{Purpose: seal.SecretValue, OwnerID: id, Version: 3}, []byte("value"))
		require.NoError(t, err)
		dk, err := store.DataKey(ctx, id, 3)
		require.NoError(t, err)
		got, err := envelope.Open(dk, v, envelope.AAD(id, 3))
		require.NoError(t, err)
		require.Equal(t, "value", string(got))
	})

	t.Run("a key left by an interrupted change is adopted", func(t *testing.T) {
		left, err := s.NewKey(ctx, owner, 5)
		require.NoError(t, err)
		again, err := s.NewKey(ctx, owner, 5)
		require.NoError(t, err)
		require.Equal(t, left, again)
	})

	require.NoError(t, s.Shred(ctx, owner, 2))
	_, err = s.Open(ctx, seal.Ref{Purpose: seal.PasswordHash, OwnerID: owner, Version: 2}, sealed)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	_, err = s.Open(ctx, ref, sealed)
	require.NoError(t, err, "shredding one version leaves the others")

	require.NoError(t, s.ShredOwner(ctx, owner))
	_, err = s.Open(ctx, ref, sealed)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "every version of the owner is gone")
	_, err = s.Key(ctx, other, 1)
	require.NoError(t, err, "other owners keep theirs")
	require.NoError(t, s.ShredOwner(ctx, owner), "shredding twice is no error")
}
