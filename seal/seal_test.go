package seal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

func TestFileDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newSealer(t)
	file, other := domain.NewID(), domain.NewID()
	digest := sha256.Sum256([]byte("the file's content"))
	want := hex.EncodeToString(digest[:])
	seal1 := func(id string, version int64) []byte {
		t.Helper()
		dk, err := s.NewKey(ctx, id, version)
		require.NoError(t, err)
		defer envelope.Zero(dk)
		sealed, err := seal.SealFileDigest(dk, id, version, digest[:])
		require.NoError(t, err)
		return sealed
	}
	sealed := seal1(file, 1)
	require.NotContains(t, string(sealed), string(digest[:]), "sealed, not in the clear")
	seal1(file, 2)  // version 2 of the same file has a key of its own
	seal1(other, 1) // and so does another file's version 1

	tests := []struct {
		name    string
		fileID  string
		version domain.FileVersion
		want    string
		wantErr bool
	}{
		{"opens under its own version's key", file, domain.FileVersion{Version: 1, SealedSHA256: sealed}, want, false},
		{"recorded in the clear before digests were sealed", file, domain.FileVersion{Version: 1, SHA256: want}, want, false},
		{"moved to another version", file, domain.FileVersion{Version: 2, SealedSHA256: sealed}, "", true},
		{"moved to another file", other, domain.FileVersion{Version: 1, SealedSHA256: sealed}, "", true},
		{"changed", file, domain.FileVersion{Version: 1, SealedSHA256: flipLast(sealed)}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FileDigest(ctx, tt.fileID, tt.version)
			if tt.wantErr {
				require.Error(t, err)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("shredded with its version", func(t *testing.T) {
		require.NoError(t, s.Shred(ctx, file, 1))
		got, err := s.FileDigest(ctx, file, domain.FileVersion{Version: 1, SealedSHA256: sealed})
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("only digests are sealed as digests", func(t *testing.T) {
		dk, err := envelope.NewDataKey()
		require.NoError(t, err)
		_, err = seal.SealFileDigest(dk, file, 3, []byte("short"))
		require.Error(t, err)
	})
}

func flipLast(b []byte) []byte {
	out := bytes.Clone(b)
	out[len(out)-1] ^= 1
	return out
}
