package keys_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
)

// sealed is one secret version as the secrets layer will keep it: the
// ciphertext in the (immutable) log, the data key in the store.
type sealed struct {
	owner   string
	version int64
	value   string
	blob    []byte
}

func sealValue(t *testing.T, s *keys.Store, owner string, version int64, value string) sealed {
	t.Helper()
	dk, err := s.NewDataKey(context.Background(), owner, version)
	require.NoError(t, err)
	defer envelope.Zero(dk)
	blob, err := envelope.Seal(dk, []byte(value), envelope.AAD(owner, version))
	require.NoError(t, err)
	return sealed{owner: owner, version: version, value: value, blob: blob}
}

func openValue(ctx context.Context, s *keys.Store, owner string, version int64, blob []byte) (string, error) {
	dk, err := s.DataKey(ctx, owner, version)
	if err != nil {
		return "", err
	}
	defer envelope.Zero(dk)
	pt, err := envelope.Open(dk, blob, envelope.AAD(owner, version))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

func newLocalStore(t *testing.T) (*pgtest.Database, *keys.Keyring, *keys.Store) {
	t.Helper()
	db := pgtest.New(t)
	kr := newKeyring(t, db, randomRoot(t), time.Hour)
	return db, kr, keys.NewStore(db.Pool, kr, discardLogger())
}

func TestEnvelopeThroughStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, store := newLocalStore(t)
	a1 := sealValue(t, store, "secret-a", 1, "alpha-one")
	a2 := sealValue(t, store, "secret-a", 2, "alpha-two")
	b1 := sealValue(t, store, "secret-b", 1, "bravo-one")

	for _, s := range []sealed{a1, a2, b1} {
		got, err := openValue(ctx, store, s.owner, s.version, s.blob)
		require.NoError(t, err)
		require.Equal(t, s.value, got)
	}

	tests := []struct {
		name    string
		owner   string
		version int64
		blob    []byte
	}{
		{"ciphertext moved to another secret", "secret-b", 1, a1.blob},
		{"ciphertext moved to another version", "secret-a", 2, a1.blob},
		{"flipped bit", "secret-a", 1, flip(a1.blob, 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := openValue(ctx, store, tc.owner, tc.version, tc.blob)
			require.ErrorIs(t, err, envelope.ErrOpen)
			require.Empty(t, got)
		})
	}

	// An attacker with database access copies secret-a's wrapped data key
	// (and the matching ciphertext) onto secret-b's version 1.
	t.Run("wrapped key from another secret", func(t *testing.T) {
		su := db.Superuser(t)
		_, err := su.Exec(ctx, `UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE owner_id = 'secret-a' AND version = 1)
			WHERE owner_id = 'secret-b' AND version = 1`)
		require.NoError(t, err)
		got, err := openValue(ctx, store, "secret-b", 1, a1.blob)
		require.ErrorIs(t, err, keys.ErrUnwrap)
		require.Empty(t, got)
	})
}

func TestPutGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, kr, store := newLocalStore(t)
	_, w, err := kr.GenerateDataKey(ctx, keys.EncryptionContext("s", 1))
	require.NoError(t, err)
	_, other, err := kr.GenerateDataKey(ctx, keys.EncryptionContext("s", 1))
	require.NoError(t, err)

	require.NoError(t, store.Put(ctx, "s", 1, w))
	require.NoError(t, store.Put(ctx, "s", 1, w), "storing the same key twice is idempotent")
	err = store.Put(ctx, "s", 1, other)
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "a version's data key is never replaced by Put")

	got, err := store.Get(ctx, "s", 1)
	require.NoError(t, err)
	require.Equal(t, w, got)

	_, err = store.Get(ctx, "s", 2)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	require.ErrorIs(t, err, keys.ErrDataKeyNotFound)

	for _, bad := range []struct {
		owner   string
		version int64
	}{{"", 1}, {"s", 0}, {"s", -1}} {
		require.Equal(t, domain.EINVALID, domain.ErrorCode(store.Put(ctx, bad.owner, bad.version, w)))
	}

	err = store.Put(ctx, "s", 3, keys.WrappedKey{Provider: keys.ProviderLocal, KeyID: "mk-missing", Ciphertext: w.Ciphertext})
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "a local key must name a master key that exists")
}

func TestDestroyedDataKeyCannotDecrypt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, store := newLocalStore(t)
	v1 := sealValue(t, store, "secret-d", 1, "keep me")
	v2 := sealValue(t, store, "secret-d", 2, "shred me")

	existed, err := store.Delete(ctx, "secret-d", 2)
	require.NoError(t, err)
	require.True(t, existed)
	existed, err = store.Delete(ctx, "secret-d", 2)
	require.NoError(t, err)
	require.False(t, existed, "destroying twice is not an error")

	got, err := openValue(ctx, store, "secret-d", 2, v2.blob)
	require.ErrorIs(t, err, keys.ErrDataKeyNotFound)
	require.Empty(t, got)
	// Nor does the surviving version's key open the destroyed ciphertext.
	dk, err := store.DataKey(ctx, "secret-d", 1)
	require.NoError(t, err)
	_, err = envelope.Open(dk, v2.blob, envelope.AAD("secret-d", 2))
	require.ErrorIs(t, err, envelope.ErrOpen)

	got, err = openValue(ctx, store, "secret-d", 1, v1.blob)
	require.NoError(t, err)
	require.Equal(t, "keep me", got)
}

// Concurrent callers share statements (keys/datakey_batch.go) but each gets
// its own answer: every new key is retrievable and unwraps to what
// NewDataKey returned, only the caller whose ref holds another key gets
// ECONFLICT, storing a key again is a no-op, and each Delete learns whether
// its own key was there.
func TestConcurrentCallersGetTheirOwnAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, kr, store := newLocalStore(t)
	const n = 64
	_, taken, err := kr.GenerateDataKey(ctx, keys.EncryptionContext("taken", 1))
	require.NoError(t, err)
	require.NoError(t, store.Put(ctx, "taken", 1, taken))
	_, other, err := kr.GenerateDataKey(ctx, keys.EncryptionContext("taken", 1))
	require.NoError(t, err)

	// Ends when all have returned; start releases them together.
	all := func(f func(i int)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f(i)
			}()
		}
		close(start)
		wg.Wait()
	}
	owner := func(i int) string { return fmt.Sprintf("secret-%02d", i) }

	plain := make([][]byte, n)
	errs := make([]error, n)
	all(func(i int) {
		switch i {
		case 7:
			errs[i] = store.Put(ctx, "taken", 1, other)
		case 8:
			errs[i] = store.Put(ctx, "taken", 1, taken)
		default:
			plain[i], errs[i] = store.NewDataKey(ctx, owner(i), 1)
		}
	})
	for i := range n {
		switch i {
		case 7:
			require.Equal(t, domain.ECONFLICT, domain.ErrorCode(errs[i]), "a different key for a stored ref: %v", errs[i])
		case 8:
			require.NoError(t, errs[i], "the same key again is a no-op")
		default:
			require.NoError(t, errs[i])
			got, err := store.DataKey(ctx, owner(i), 1)
			require.NoError(t, err)
			require.Equal(t, plain[i], got)
		}
	}
	w, err := store.Get(ctx, "taken", 1)
	require.NoError(t, err)
	require.Equal(t, taken, w)

	// Even callers destroy their key, odd ones a key never stored.
	existed := make([]bool, n)
	all(func(i int) {
		if i%2 == 0 {
			existed[i], errs[i] = store.Delete(ctx, owner(i), 1)
		} else {
			existed[i], errs[i] = store.Delete(ctx, owner(i), 2)
		}
	})
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, i%2 == 0 && i != 7 && i != 8, existed[i], "caller %d", i)
	}
	all(func(i int) { existed[i], errs[i] = store.Delete(ctx, owner(i), 1) })
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, i%2 == 1 && i != 7, existed[i], "caller %d: only the odd ones' keys are left", i)
	}
	left, err := store.Count(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), left, "only taken/1")
}

// Rotate, rewrap and retire: every value still opens, every data key moves
// to the new master key, and the old master key — even kept by an attacker —
// opens none of the rewrapped keys.
func TestRotateRewrapRetire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, kr, store := newLocalStore(t)
	oldID, err := kr.ActiveKeyID(ctx)
	require.NoError(t, err)
	oldMK := kr.MasterKeyMaterial(oldID)

	const n = 600 // more than two rewrap pages
	values := make([]sealed, 0, n)
	oldWrapped := map[string]keys.WrappedKey{}
	for i := range n {
		s := sealValue(t, store, fmt.Sprintf("secret-%03d", i%200), int64(i/200+1), fmt.Sprintf("value-%d", i))
		values = append(values, s)
		w, err := store.Get(ctx, s.owner, s.version)
		require.NoError(t, err)
		oldWrapped[s.owner+"/"+fmt.Sprint(s.version)] = w
	}

	newID, err := kr.Rotate(ctx)
	require.NoError(t, err)
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(kr.Retire(ctx, oldID)), "a key that still wraps data keys cannot be retired")
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(kr.Retire(ctx, newID)), "the active key cannot be retired")

	var lastDone, lastTotal int64
	calls := 0
	st, err := store.Rewrap(ctx, func(done, total int64) {
		require.Greater(t, done, lastDone)
		lastDone, lastTotal = done, total
		calls++
	})
	require.NoError(t, err)
	require.Equal(t, keys.RewrapStats{Scanned: n, Rewrapped: n}, st)
	require.Equal(t, n, calls)
	require.Equal(t, int64(n), lastDone)
	require.Equal(t, int64(n), lastTotal)

	st, err = store.Rewrap(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, keys.RewrapStats{Scanned: n}, st, "a second rewrap changes nothing")

	for _, s := range values {
		w, err := store.Get(ctx, s.owner, s.version)
		require.NoError(t, err)
		require.Equal(t, newID, w.KeyID)
		_, err = envelope.Open(oldMK, w.Ciphertext, keys.DataKeyAAD(w.KeyID, keys.EncryptionContext(s.owner, s.version)))
		require.ErrorIs(t, err, envelope.ErrOpen, "the old master key opens no rewrapped key")
		got, err := openValue(ctx, store, s.owner, s.version, s.blob)
		require.NoError(t, err)
		require.Equal(t, s.value, got)
	}

	require.NoError(t, kr.Retire(ctx, oldID))
	mks, err := kr.MasterKeys(ctx)
	require.NoError(t, err)
	require.Len(t, mks, 1)
	// A copy of an old wrapped key (from a backup) is now useless.
	old := oldWrapped["secret-000/1"]
	_, err = kr.Decrypt(ctx, old, keys.EncryptionContext("secret-000", 1))
	require.ErrorIs(t, err, keys.ErrUnwrap)
}

// A version destroyed while a rewrap runs stays destroyed.
func TestRewrapNeverResurrectsDestroyedKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, kr, store := newLocalStore(t)
	for v := int64(1); v <= 3; v++ {
		sealValue(t, store, "secret-r", v, "x")
	}
	_, err := kr.Rotate(ctx)
	require.NoError(t, err)

	st, err := store.Rewrap(ctx, func(done, _ int64) {
		if done == 1 {
			_, err := store.Delete(ctx, "secret-r", 3)
			require.NoError(t, err)
		}
	})
	require.NoError(t, err)
	require.Equal(t, keys.RewrapStats{Scanned: 3, Rewrapped: 2, Vanished: 1}, st)
	_, err = store.Get(ctx, "secret-r", 3)
	require.ErrorIs(t, err, keys.ErrDataKeyNotFound)
}

// An interrupted rewrap resumes where it stopped when run again.
func TestRewrapIsResumable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, kr, store := newLocalStore(t)
	for i := range 10 {
		sealValue(t, store, fmt.Sprintf("secret-%02d", i), 1, "x")
	}
	newID, err := kr.Rotate(ctx)
	require.NoError(t, err)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := store.Rewrap(cctx, func(done, _ int64) {
		if done == 4 {
			cancel()
		}
	})
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled))
	require.Equal(t, int64(4), st.Rewrapped)

	st, err = store.Rewrap(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, keys.RewrapStats{Scanned: 10, Rewrapped: 6}, st)
	page, err := store.Page(ctx, keys.DataKeyRef{}, 100)
	require.NoError(t, err)
	require.Len(t, page, 10)
	for _, k := range page {
		require.Equal(t, newID, k.Wrapped.KeyID)
	}
}

// A row that does not unwrap is reported, the others are still rewrapped.
func TestRewrapReportsBrokenKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, kr, store := newLocalStore(t)
	for v := int64(1); v <= 3; v++ {
		sealValue(t, store, "secret-t", v, "x")
	}
	_, err := db.Superuser(t).Exec(ctx, `UPDATE data_keys SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1) WHERE version = 2`)
	require.NoError(t, err)
	_, err = kr.Rotate(ctx)
	require.NoError(t, err)

	st, err := store.Rewrap(ctx, nil)
	require.Error(t, err)
	require.Equal(t, keys.RewrapStats{Scanned: 3, Rewrapped: 2, Failed: 1}, st)
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0x01
	return out
}
