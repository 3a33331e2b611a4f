package envelope_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k, err := envelope.NewDataKey()
	require.NoError(t, err)
	require.Len(t, k, envelope.KeySize)
	return k
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"short", []byte("hunter2")},
		{"64KiB", bytes.Repeat([]byte{0xA5}, 64<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := newKey(t)
			aad := envelope.AAD("secret-1", 3)
			sealed, err := envelope.Seal(key, tc.plaintext, aad)
			require.NoError(t, err)
			require.Len(t, sealed, len(tc.plaintext)+envelope.Overhead)
			if len(tc.plaintext) > 0 {
				require.False(t, bytes.Contains(sealed, tc.plaintext), "sealed value must not contain the plaintext")
			}
			got, err := envelope.Open(key, sealed, aad)
			require.NoError(t, err)
			require.Equal(t, len(tc.plaintext), len(got))
			require.True(t, bytes.Equal(tc.plaintext, got))
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	aad := envelope.AAD("s", 1)
	a, err := envelope.Seal(key, []byte("same"), aad)
	require.NoError(t, err)
	b, err := envelope.Seal(key, []byte("same"), aad)
	require.NoError(t, err)
	require.NotEqual(t, a[1:1+envelope.NonceSize], b[1:1+envelope.NonceSize])
	require.NotEqual(t, a, b)
}

// Every single-bit change anywhere in the sealed value (format byte, nonce,
// ciphertext, tag) must be rejected.
func TestEveryBitFlipIsDetected(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	aad := envelope.AAD("secret-1", 1)
	sealed, err := envelope.Seal(key, []byte("correct horse battery staple"), aad)
	require.NoError(t, err)
	for i := range sealed {
		for bit := range 8 {
			tampered := bytes.Clone(sealed)
			tampered[i] ^= 1 << bit
			got, err := envelope.Open(key, tampered, aad)
			require.Errorf(t, err, "byte %d bit %d", i, bit)
			require.ErrorIs(t, err, envelope.ErrOpen)
			require.Nil(t, got)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	sealed, err := envelope.Seal(key, []byte("value"), envelope.AAD("secret-1", 2))
	require.NoError(t, err)

	tests := []struct {
		name   string
		key    []byte
		sealed []byte
		aad    []byte
	}{
		{"moved to another secret", key, sealed, envelope.AAD("secret-2", 2)},
		{"moved to another version", key, sealed, envelope.AAD("secret-1", 1)},
		{"no additional data", key, sealed, nil},
		{"other data key", newKey(t), sealed, envelope.AAD("secret-1", 2)},
		{"truncated tag", key, sealed[:len(sealed)-1], envelope.AAD("secret-1", 2)},
		{"too short", key, sealed[:envelope.Overhead-1], envelope.AAD("secret-1", 2)},
		{"empty", key, nil, envelope.AAD("secret-1", 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := envelope.Open(tc.key, tc.sealed, tc.aad)
			require.ErrorIs(t, err, envelope.ErrOpen)
			require.Nil(t, got)
			require.Equal(t, domain.EINTERNAL, domain.ErrorCode(err))
		})
	}
}

func TestBadKeySizeRejected(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 24, 31, 33} {
		_, err := envelope.Seal(make([]byte, n), []byte("x"), nil)
		require.Errorf(t, err, "key of %d bytes", n)
		_, err = envelope.Open(make([]byte, n), make([]byte, 64), nil)
		require.Errorf(t, err, "key of %d bytes", n)
	}
}

func TestAADIsUnambiguous(t *testing.T) {
	t.Parallel()
	pairs := []struct {
		id      string
		version int64
	}{
		{"a", 1}, {"a", 2}, {"b", 1}, {"ab", 1}, {"a\x00\x00\x00\x00\x00\x00\x00", 1},
		{"", 0}, {"", 1}, {"prod/db/password", 1}, {"prod/db", 1},
	}
	seen := map[string]int{}
	for i, p := range pairs {
		enc := string(envelope.AAD(p.id, p.version))
		if j, dup := seen[enc]; dup {
			t.Fatalf("AAD(%q,%d) equals AAD(%q,%d)", p.id, p.version, pairs[j].id, pairs[j].version)
		}
		seen[enc] = i
	}
	require.Equal(t, envelope.AAD("x", 7), envelope.AAD("x", 7), "AAD must be deterministic")
}

func TestZero(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	envelope.Zero(k)
	require.Equal(t, make([]byte, envelope.KeySize), k)
}
