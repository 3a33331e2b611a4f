package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
)

func randomRoot(t *testing.T) []byte {
	t.Helper()
	k, err := envelope.NewDataKey()
	require.NoError(t, err)
	return k
}

func newKeyring(t *testing.T, db *pgtest.Database, root []byte, refresh time.Duration) *keys.Keyring {
	t.Helper()
	kr, err := keys.NewKeyring(context.Background(), db.Pool, root, discardLogger(), keys.KeyringOptions{RefreshInterval: refresh})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return kr
}

func TestParseRootKey(t *testing.T) {
	t.Parallel()
	good := randomRoot(t)
	tests := []struct {
		name    string
		value   string
		wantErr string
	}{
		{"padded base64", base64.StdEncoding.EncodeToString(good), ""},
		{"unpadded base64", base64.RawStdEncoding.EncodeToString(good), ""},
		{"surrounding newline", base64.StdEncoding.EncodeToString(good) + "\n", ""},
		{"empty", "", "ENCRYPTION_KEY is not set"},
		{"blank", "   ", "ENCRYPTION_KEY is not set"},
		{"not base64", "this is not base64 at all!!", "ENCRYPTION_KEY is not valid"},
		{"url alphabet", "-_" + base64.RawStdEncoding.EncodeToString(good)[2:], "ENCRYPTION_KEY is not valid"},
		{"16 bytes", base64.StdEncoding.EncodeToString(good[:16]), "exactly 32 bytes, got 16"},
		{"31 bytes", base64.StdEncoding.EncodeToString(good[:31]), "exactly 32 bytes, got 31"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(good), 1)), "exactly 32 bytes, got 33"},
		{"64 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(good), good...)), "exactly 32 bytes, got 64"},
		{"all zero", base64.StdEncoding.EncodeToString(make([]byte, 32)), "ENCRYPTION_KEY is weak"},
		{"typed password", base64.StdEncoding.EncodeToString([]byte("passwordpasswordpasswordpassword")), "ENCRYPTION_KEY is weak"},
		{"short pattern", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)), "ENCRYPTION_KEY is weak"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, err := keys.ParseRootKey(tc.value)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, good, key)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			require.Nil(t, key)
			if v := bytes.TrimSpace([]byte(tc.value)); len(v) > 0 {
				require.NotContains(t, err.Error(), string(v), "the error must not echo the key")
			}
		})
	}
}

func TestKeyringRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	kr := newKeyring(t, db, randomRoot(t), time.Hour)

	ec := keys.EncryptionContext("secret-1", 1)
	dk, wrapped, err := kr.GenerateDataKey(ctx, ec)
	require.NoError(t, err)
	require.Len(t, dk, envelope.KeySize)
	require.Equal(t, keys.ProviderLocal, wrapped.Provider)
	active, err := kr.ActiveKeyID(ctx)
	require.NoError(t, err)
	require.Equal(t, active, wrapped.KeyID)
	require.False(t, bytes.Contains(wrapped.Ciphertext, dk))

	got, err := kr.Decrypt(ctx, wrapped, ec)
	require.NoError(t, err)
	require.Equal(t, dk, got)

	flipped := bytes.Clone(wrapped.Ciphertext)
	flipped[len(flipped)/2] ^= 0x10
	tests := []struct {
		name    string
		wrapped keys.WrappedKey
		ec      map[string]string
	}{
		{"flipped bit", keys.WrappedKey{Provider: keys.ProviderLocal, KeyID: wrapped.KeyID, Ciphertext: flipped}, ec},
		{"wrapped key from another secret", wrapped, keys.EncryptionContext("secret-2", 1)},
		{"wrapped key from another version", wrapped, keys.EncryptionContext("secret-1", 2)},
		{"extra context entry", wrapped, map[string]string{keys.ContextOwner: "secret-1", keys.ContextVersion: "1", "x": ""}},
		{"no context", wrapped, nil},
		{"unknown master key", keys.WrappedKey{Provider: keys.ProviderLocal, KeyID: "mk-unknown", Ciphertext: wrapped.Ciphertext}, ec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kr.Decrypt(ctx, tc.wrapped, tc.ec)
			require.ErrorIs(t, err, keys.ErrUnwrap)
			require.Nil(t, got)
		})
	}
	t.Run("other provider", func(t *testing.T) {
		_, err := kr.Decrypt(ctx, keys.WrappedKey{Provider: keys.ProviderAWSKMS, KeyID: wrapped.KeyID, Ciphertext: wrapped.Ciphertext}, ec)
		require.Error(t, err)
	})
}

func TestKeyringRejectsOtherRootKey(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	newKeyring(t, db, randomRoot(t), time.Hour)

	_, err := keys.NewKeyring(context.Background(), db.Pool, randomRoot(t), discardLogger(), keys.KeyringOptions{})
	require.ErrorContains(t, err, "ENCRYPTION_KEY does not decrypt master key")
	require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
}

// Replicas starting together on an empty table create exactly one key.
func TestKeyringBootstrapsOneKey(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	root := randomRoot(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			kr, err := keys.NewKeyring(context.Background(), db.Pool, root, discardLogger(), keys.KeyringOptions{})
			if err == nil {
				kr.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	kr := newKeyring(t, db, root, time.Hour)
	mks, err := kr.MasterKeys(context.Background())
	require.NoError(t, err)
	require.Len(t, mks, 1)
	require.True(t, mks[0].Active)
}

func TestOnlyOneActiveMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	kr := newKeyring(t, db, randomRoot(t), time.Hour)

	t.Run("the database refuses a second active key", func(t *testing.T) {
		_, err := db.Superuser(t).Exec(ctx, `INSERT INTO master_keys (id, wrapped_key, active) VALUES ('mk-rogue', '\x00', true)`)
		require.ErrorContains(t, err, "master_keys_one_active")
	})
	t.Run("concurrent rotations serialise", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				_, err := kr.Rotate(ctx)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		mks, err := kr.MasterKeys(ctx)
		require.NoError(t, err)
		require.Len(t, mks, 5)
		actives := 0
		for _, mk := range mks {
			if mk.Active {
				actives++
			}
		}
		require.Equal(t, 1, actives)
	})
}

// A rotation on one replica is picked up by another: it decrypts keys
// wrapped under the new master key (reload on unknown id) and, once its
// cache is stale, wraps new keys under it.
func TestRotationReachesOtherReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	root := randomRoot(t)
	admin := newKeyring(t, db, root, time.Hour)
	lazy := newKeyring(t, db, root, time.Hour)
	eager := newKeyring(t, db, root, time.Nanosecond)
	before, err := lazy.ActiveKeyID(ctx)
	require.NoError(t, err)

	newID, err := admin.Rotate(ctx)
	require.NoError(t, err)
	require.NotEqual(t, before, newID)

	ec := keys.EncryptionContext("s", 1)
	dk, wrapped, err := admin.GenerateDataKey(ctx, ec)
	require.NoError(t, err)
	require.Equal(t, newID, wrapped.KeyID)

	got, err := lazy.Decrypt(ctx, wrapped, ec)
	require.NoError(t, err, "an unknown key id triggers a reload")
	require.Equal(t, dk, got)

	_, w2, err := eager.GenerateDataKey(ctx, ec)
	require.NoError(t, err)
	require.Equal(t, newID, w2.KeyID, "a stale cache is refreshed before wrapping")
}

// A closed keyring has zeroed its root key: it must refuse to rotate rather
// than store a master key sealed under zeros, which would break every replica.
func TestClosedKeyringRefusesWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	root := randomRoot(t)
	kr, err := keys.NewKeyring(ctx, db.Pool, root, discardLogger(), keys.KeyringOptions{})
	require.NoError(t, err)
	kr.Close()

	_, err = kr.Rotate(ctx)
	require.Error(t, err)
	_, _, err = kr.GenerateDataKey(ctx, keys.EncryptionContext("s", 1))
	require.Error(t, err)

	other := newKeyring(t, db, root, time.Hour)
	mks, err := other.MasterKeys(ctx)
	require.NoError(t, err)
	require.Len(t, mks, 1, "no key was added by the closed keyring")
}
