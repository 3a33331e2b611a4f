// Package streamseal seals data too large to hold in memory (file
// contents) as a chunked AEAD stream under one data key: a header, then
// fixed-size segments, each AES-256-GCM on its own, so memory stays one
// segment whatever the size and any segment can be read on its own (HTTP
// ranges).
//
// The format (version 1):
//
//	header  = "SVFS" || 0x01 || segment size (uint32 BE, 65536) || nonce prefix (7 random bytes)
//	segment = AES-256-GCM(key, nonce, plaintext chunk, aad) = ciphertext || tag (16 bytes)
//	nonce   = nonce prefix (7) || segment counter (uint32 BE, from 0) || last flag (0x00, or 0x01 on the last segment)
//	aad     = header (16 bytes) || the caller's additional data
//
// Every segment but the last holds exactly SegmentSize plaintext bytes; the
// last holds 0 to SegmentSize (an empty input is one empty last segment).
// The segment counter and the last flag in the nonce make reordered,
// dropped, duplicated or appended segments fail authentication, and a
// stream cut at a segment boundary lacks its last flag. The header in the
// additional data binds the segment size and prefix; the caller's additional
// data (seal.Ref.AAD: purpose, file id, version) makes a segment moved from
// another file or version fail too. This is the STREAM construction of
// Hoang, Reyhanitabar, Rogaway and Vizár (2015), as in Tink's streaming AEAD.
//
// A Reader releases no byte of a segment before that segment verified. A
// stream that turns out to be cut or altered further on fails when the
// reader reaches that point, after earlier verified segments were released:
// a consumer that must not act on a partial result (an HTTP download) aborts
// its output on that error, so its client sees a failed transfer.
//
// One data key seals one stream. A random prefix per stream keeps nonces
// apart in the rare case a key is reused (an upload retried after a crash
// adopts the key an earlier attempt stored).
package streamseal

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/securevault/vault/envelope"
)

const (
	// SegmentSize is the plaintext size of every segment but the last.
	SegmentSize = 64 << 10
	// TagSize is what each segment adds to its plaintext.
	TagSize = 16
	// HeaderSize is the length of the stream header.
	HeaderSize = 16
	// SealedSegmentSize is the stored size of a full segment.
	SealedSegmentSize = SegmentSize + TagSize

	magic        = "SVFS"
	formatV1     = 1
	prefixSize   = 7
	nonceSize    = prefixSize + 4 + 1
	maxSegments  = math.MaxUint32
	lastFlag     = 1
	notLastFlag  = 0
	headerPrefix = 4 + 1 + 4
)

// ErrAuth reports a stream that failed verification: wrong key or
// additional data, a changed, reordered, swapped or appended segment, or a
// cut stream. It deliberately does not say which.
var ErrAuth = errors.New("streamseal: stream failed authentication")

// SealedSize is the stored size of a stream sealing plainSize bytes.
func SealedSize(plainSize int64) int64 {
	return HeaderSize + plainSize + Segments(plainSize)*TagSize
}

// Segments is how many segments seal plainSize bytes (at least one).
func Segments(plainSize int64) int64 {
	if plainSize <= 0 {
		return 1
	}
	return (plainSize + SegmentSize - 1) / SegmentSize
}

// SegmentOffset is where segment i starts in the stored stream.
func SegmentOffset(i int64) int64 { return HeaderSize + i*SealedSegmentSize }

// Writer seals what is written to it into dst. Close seals the last
// segment; a stream not closed is cut and never opens.
type Writer struct {
	dst    io.Writer
	aead   cipher.AEAD
	header [HeaderSize]byte
	aad    []byte
	buf    []byte // plaintext of the pending segment
	out    []byte
	index  uint64
	err    error
	closed bool
}

// NewWriter writes a fresh header to dst and returns a Writer sealing
// under key (32 bytes) bound to aad. The caller zeroes key after Close.
func NewWriter(dst io.Writer, key, aad []byte) (*Writer, error) {
	aead, err := envelope.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	w := &Writer{dst: dst, aead: aead, buf: make([]byte, 0, SegmentSize), out: make([]byte, 0, SealedSegmentSize)}
	copy(w.header[:], magic)
	w.header[4] = formatV1
	binary.BigEndian.PutUint32(w.header[5:9], SegmentSize)
	if _, err := rand.Read(w.header[headerPrefix:]); err != nil {
		return nil, fmt.Errorf("streamseal: random source: %w", err)
	}
	w.aad = segmentAAD(w.header[:], aad)
	if _, err := dst.Write(w.header[:]); err != nil {
		return nil, err
	}
	return w, nil
}

// Write buffers p and seals every segment known not to be the last.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("streamseal: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == SegmentSize {
			// More follows, so the full pending segment is not the last.
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):SegmentSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close seals the pending data as the last segment. It does not close dst.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flush(true)
	clear(w.buf[:cap(w.buf)])
	return err
}

func (w *Writer) flush(last bool) error {
	if w.index >= maxSegments {
		w.err = errors.New("streamseal: stream too long")
		return w.err
	}
	nonce := segmentNonce(w.header[headerPrefix:], uint32(w.index), last)
	w.out = w.aead.Seal(w.out[:0], nonce[:], w.buf, w.aad)
	if _, err := w.dst.Write(w.out); err != nil {
		w.err = err
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Reader opens a sealed stream, one verified segment at a time.
type Reader struct {
	src     *bufio.Reader
	aead    cipher.AEAD
	prefix  [prefixSize]byte
	aad     []byte
	index   uint64
	final   int64 // index of the last segment, or -1 when the end of src says
	in      []byte
	plain   []byte // verified plaintext not yet read
	done    bool
	err     error
	scratch []byte
}

// NewReader reads the header from src and returns a Reader of the whole
// stream; the last segment is the one src ends with.
func NewReader(src io.Reader, key, aad []byte) (*Reader, error) {
	var header [HeaderSize]byte
	if _, err := io.ReadFull(src, header[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrAuth, err)
	}
	return NewSegmentReader(header[:], src, key, aad, 0, -1)
}

// NewSegmentReader reads from src positioned at segment first (at
// SegmentOffset(first)) of a stream with the given header, for reading a
// range. When plainSize is known (not negative) it names the last segment,
// so src may end early (a byte range of the stored stream); a src that ends
// before the segments it promised is reported as cut.
func NewSegmentReader(header []byte, src io.Reader, key, aad []byte, first, plainSize int64) (*Reader, error) {
	if err := checkHeader(header); err != nil {
		return nil, err
	}
	aead, err := envelope.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	final := int64(-1)
	if plainSize >= 0 {
		final = Segments(plainSize) - 1
		if first > final {
			return nil, fmt.Errorf("streamseal: segment %d is beyond the last segment %d", first, final)
		}
	}
	if first < 0 || first >= maxSegments {
		return nil, fmt.Errorf("streamseal: segment %d out of range", first)
	}
	r := &Reader{
		src:   bufio.NewReaderSize(src, 16),
		aead:  aead,
		aad:   segmentAAD(header, aad),
		index: uint64(first),
		final: final,
		in:    make([]byte, SealedSegmentSize),
	}
	copy(r.prefix[:], header[headerPrefix:])
	return r, nil
}

// Read returns verified plaintext. It returns ErrAuth (wrapped) when a
// segment fails verification or the stream is cut, and io.EOF only after
// the last segment verified.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next reads and verifies one segment into r.plain.
func (r *Reader) next() error {
	if r.index >= maxSegments {
		return fmt.Errorf("%w: more segments than the format allows", ErrAuth)
	}
	n, err := io.ReadFull(r.src, r.in)
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF):
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the stream ends before its last segment", ErrAuth)
	default:
		return fmt.Errorf("streamseal: read segment %d: %w", r.index, err)
	}
	var last bool
	switch {
	case r.final >= 0:
		last = int64(r.index) == r.final //nolint:gosec // G115: index < maxSegments (2^32), checked in next
		if !last && n < SealedSegmentSize {
			return fmt.Errorf("%w: the stream ends inside segment %d", ErrAuth, r.index)
		}
	case n < SealedSegmentSize:
		last = true
	default:
		// A full segment is the last one only if nothing follows it.
		_, perr := r.src.Peek(1)
		if perr != nil && !errors.Is(perr, io.EOF) {
			return fmt.Errorf("streamseal: read segment %d: %w", r.index, perr)
		}
		last = errors.Is(perr, io.EOF)
	}
	if n < TagSize {
		return fmt.Errorf("%w: segment %d is shorter than its tag", ErrAuth, r.index)
	}
	nonce := segmentNonce(r.prefix[:], uint32(r.index), last) //nolint:gosec // G115: index < maxSegments, checked above
	plain, err := r.aead.Open(r.scratch[:0], nonce[:], r.in[:n], r.aad)
	if err != nil {
		return fmt.Errorf("%w: segment %d", ErrAuth, r.index)
	}
	r.scratch = plain
	r.plain = plain
	r.index++
	r.done = last
	return nil
}

// Header returns the header at the start of a stored stream, checked.
func Header(b []byte) ([]byte, error) {
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("%w: header too short", ErrAuth)
	}
	if err := checkHeader(b[:HeaderSize]); err != nil {
		return nil, err
	}
	return bytes.Clone(b[:HeaderSize]), nil
}

func checkHeader(h []byte) error {
	if len(h) != HeaderSize || string(h[:4]) != magic {
		return fmt.Errorf("%w: not a sealed stream", ErrAuth)
	}
	if h[4] != formatV1 {
		return fmt.Errorf("%w: unknown format %d", ErrAuth, h[4])
	}
	if binary.BigEndian.Uint32(h[5:9]) != SegmentSize {
		return fmt.Errorf("%w: unsupported segment size", ErrAuth)
	}
	return nil
}

func segmentNonce(prefix []byte, index uint32, last bool) [nonceSize]byte {
	var n [nonceSize]byte
	copy(n[:prefixSize], prefix)
	binary.BigEndian.PutUint32(n[prefixSize:prefixSize+4], index)
	if last {
		n[nonceSize-1] = lastFlag
	} else {
		n[nonceSize-1] = notLastFlag
	}
	return n
}

func segmentAAD(header, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	b = append(b, header...)
	return append(b, aad...)
}
