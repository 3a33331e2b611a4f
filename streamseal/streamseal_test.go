package streamseal_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/seal"
	"github.com/securevault/vault/streamseal"
)

const seg = streamseal.SegmentSize

func aadOf(id string, version int64) []byte {
	return seal.Ref{Purpose: seal.FileContent, OwnerID: id, Version: version}.AAD()
}

func sealBytes(t testing.TB, key, aad, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := streamseal.NewWriter(&out, key, aad)
	require.NoError(t, err)
	// Odd write sizes cross segment boundaries at every offset.
	for p := plain; len(p) > 0; {
		n := min(len(p), 7777)
		_, err := w.Write(p[:n])
		require.NoError(t, err)
		p = p[n:]
	}
	require.NoError(t, w.Close())
	return out.Bytes()
}

func openAll(key, aad, sealed []byte) ([]byte, error) {
	r, err := streamseal.NewReader(bytes.NewReader(sealed), key, aad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	key := random(t, envelope.KeySize)
	aad := aadOf("f1", 1)
	for _, size := range []int{0, 1, 100, seg - 1, seg, seg + 1, 2 * seg, 3*seg + 5} {
		plain := random(t, size)
		sealed := sealBytes(t, key, aad, plain)
		require.Equal(t, streamseal.SealedSize(int64(size)), int64(len(sealed)), "size %d", size)
		got, err := openAll(key, aad, sealed)
		require.NoError(t, err, "size %d", size)
		require.Equal(t, plain, got, "size %d", size)
	}
}

// Every way of changing a stored stream fails verification.
func TestTamperingIsDetected(t *testing.T) {
	t.Parallel()
	key := random(t, envelope.KeySize)
	aad := aadOf("f1", 1)
	plain := random(t, 3*seg+100)
	sealed := sealBytes(t, key, aad, plain)
	other := sealBytes(t, key, aadOf("f2", 1), plain)    // another file, same key
	otherVer := sealBytes(t, key, aadOf("f1", 2), plain) // another version
	second := sealBytes(t, key, aad, plain)              // the same file sealed again
	segment := func(b []byte, i int) []byte {
		start := streamseal.SegmentOffset(int64(i))
		return b[start:min(int64(len(b)), start+streamseal.SealedSegmentSize)]
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	head := sealed[:streamseal.HeaderSize]
	flip := func(at int) []byte {
		b := bytes.Clone(sealed)
		b[at] ^= 0x01
		return b
	}
	cases := []struct {
		name   string
		stored []byte
		key    []byte
		aad    []byte
	}{
		{"flipped header byte", flip(3), key, aad},
		{"flipped nonce prefix", flip(streamseal.HeaderSize - 1), key, aad},
		{"flipped first byte of segment 0", flip(streamseal.HeaderSize), key, aad},
		{"flipped byte in segment 2", flip(int(streamseal.SegmentOffset(2)) + 500), key, aad},
		{"flipped tag of last segment", flip(len(sealed) - 1), key, aad},
		{"header only", bytes.Clone(head), key, aad},
		{"cut short of the header", bytes.Clone(sealed[:10]), key, aad},
		{"cut at a segment boundary", bytes.Clone(sealed[:streamseal.SegmentOffset(3)]), key, aad},
		{"cut inside a segment", bytes.Clone(sealed[:streamseal.SegmentOffset(2)+1000]), key, aad},
		{"last byte missing", bytes.Clone(sealed[:len(sealed)-1]), key, aad},
		{"segments 1 and 2 swapped", join(head, segment(sealed, 0), segment(sealed, 2), segment(sealed, 1), segment(sealed, 3)), key, aad},
		{"segment 1 repeated", join(head, segment(sealed, 0), segment(sealed, 1), segment(sealed, 1), segment(sealed, 2), segment(sealed, 3)), key, aad},
		{"last segment dropped", join(head, segment(sealed, 0), segment(sealed, 1), segment(sealed, 2)), key, aad},
		{"segment appended", join(sealed, segment(sealed, 1)), key, aad},
		{"segment from another file", join(head, segment(sealed, 0), segment(other, 1), segment(sealed, 2), segment(sealed, 3)), key, aad},
		{"segment from another version", join(head, segment(sealed, 0), segment(otherVer, 1), segment(sealed, 2), segment(sealed, 3)), key, aad},
		{"segment from another sealing of the same file", join(head, segment(sealed, 0), segment(second, 1), segment(sealed, 2), segment(sealed, 3)), key, aad},
		{"header of another sealing", join(second[:streamseal.HeaderSize], sealed[streamseal.HeaderSize:]), key, aad},
		{"whole stream of another file", other, key, aad},
		{"whole stream of another version", otherVer, key, aad},
		{"wrong key", sealed, random(t, envelope.KeySize), aad},
		{"empty", nil, key, aad},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := openAll(tc.key, tc.aad, tc.stored)
			require.ErrorIs(t, err, streamseal.ErrAuth)
			require.True(t, bytes.HasPrefix(plain, got), "only verified plaintext is released")
		})
	}
}

// A reader releases a segment's bytes only after that segment verified:
// with segment 2 altered, exactly segments 0 and 1 come out.
func TestNoUnverifiedBytesAreReleased(t *testing.T) {
	t.Parallel()
	key := random(t, envelope.KeySize)
	aad := aadOf("f1", 1)
	plain := random(t, 4*seg)
	sealed := sealBytes(t, key, aad, plain)
	sealed[streamseal.SegmentOffset(2)+seg-1] ^= 0x80
	r, err := streamseal.NewReader(bytes.NewReader(sealed), key, aad)
	require.NoError(t, err)
	var got bytes.Buffer
	_, err = io.Copy(&got, r)
	require.ErrorIs(t, err, streamseal.ErrAuth)
	require.Equal(t, plain[:2*seg], got.Bytes())
	// The error sticks.
	n, err := r.Read(make([]byte, 10))
	require.Zero(t, n)
	require.ErrorIs(t, err, streamseal.ErrAuth)
}

// A range is read from its first segment on, with the plaintext size known.
func TestSegmentReader(t *testing.T) {
	t.Parallel()
	key := random(t, envelope.KeySize)
	aad := aadOf("f1", 1)
	size := 3*seg + 77
	plain := random(t, size)
	sealed := sealBytes(t, key, aad, plain)
	header, err := streamseal.Header(sealed)
	require.NoError(t, err)
	for _, tc := range []struct {
		name         string
		first, count int64 // segments fetched
		wantErr      bool
	}{
		{"first segment only", 0, 1, false},
		{"middle segments", 1, 2, false},
		{"last segment", 3, 1, false},
		{"from 2 to the end", 2, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := streamseal.SegmentOffset(tc.first)
			end := min(int64(len(sealed)), streamseal.SegmentOffset(tc.first+tc.count))
			r, err := streamseal.NewSegmentReader(header, bytes.NewReader(sealed[start:end]), key, aad, tc.first, int64(size))
			require.NoError(t, err)
			want := plain[tc.first*seg : min(int64(size), (tc.first+tc.count)*seg)]
			got := make([]byte, len(want))
			_, err = io.ReadFull(r, got)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
	// A segment read at the wrong index fails.
	start := streamseal.SegmentOffset(1)
	r, err := streamseal.NewSegmentReader(header, bytes.NewReader(sealed[start:start+streamseal.SealedSegmentSize]), key, aad, 2, int64(size))
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, streamseal.ErrAuth)
	// A full segment offered as the last fails.
	r, err = streamseal.NewSegmentReader(header, bytes.NewReader(sealed[start:start+streamseal.SealedSegmentSize]), key, aad, 1, 2*seg)
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, streamseal.ErrAuth)
	// A source that ends before the last segment is cut.
	r, err = streamseal.NewSegmentReader(header, bytes.NewReader(sealed[start:start+streamseal.SealedSegmentSize]), key, aad, 1, int64(size))
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, streamseal.ErrAuth)
}

func TestWriterErrors(t *testing.T) {
	t.Parallel()
	_, err := streamseal.NewWriter(io.Discard, []byte("short"), nil)
	require.Error(t, err)
	w, err := streamseal.NewWriter(io.Discard, random(t, envelope.KeySize), nil)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	_, err = w.Write([]byte("x"))
	require.Error(t, err)
	failing := failingWriter{}
	_, err = streamseal.NewWriter(failing, random(t, envelope.KeySize), nil)
	require.Error(t, err)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// FuzzStream: whatever the plaintext, sealing then opening gives it back;
// whatever single change is made to the stored stream, opening fails or
// (for no change at all) gives the plaintext back, and never anything else.
func FuzzStream(f *testing.F) {
	f.Add([]byte("hello"), uint32(0), uint8(1), uint32(0))
	f.Add(bytes.Repeat([]byte{7}, seg+3), uint32(seg+20), uint8(0x80), uint32(0))
	f.Add(bytes.Repeat([]byte{1}, 2*seg), uint32(0), uint8(0), uint32(seg))
	key := make([]byte, envelope.KeySize)
	aad := aadOf("fuzz", 1)
	f.Fuzz(func(t *testing.T, plain []byte, at uint32, xor uint8, cut uint32) {
		sealed := sealBytes(t, key, aad, plain)
		got, err := openAll(key, aad, sealed)
		require.NoError(t, err)
		require.Equal(t, len(plain), len(got))
		require.True(t, bytes.Equal(plain, got))
		changed := bytes.Clone(sealed)
		if xor != 0 {
			changed[int(at)%len(changed)] ^= xor
		}
		if cut > 0 {
			changed = changed[:len(changed)-int(cut)%len(changed)]
		}
		got, err = openAll(key, aad, changed)
		if bytes.Equal(changed, sealed) {
			require.NoError(t, err)
			require.True(t, bytes.Equal(plain, got))
			return
		}
		require.ErrorIs(t, err, streamseal.ErrAuth)
		require.True(t, bytes.HasPrefix(plain, got))
	})
}
