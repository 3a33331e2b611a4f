package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// linkFields are the parts of an event its chain link covers, besides the
// previous link.
type linkFields struct {
	position      int64
	streamID      string
	version       int64
	eventID       [16]byte
	eventType     string
	schemaVersion int32
	data          []byte
	metadata      []byte
	recordedAt    time.Time
}

// appendLinkInput appends an event's link input to buf. Every
// variable-length field is length-prefixed so no two different events
// share an encoding, integers are 8 bytes big endian, and the timestamp is
// Unix microseconds, the precision PostgreSQL keeps. Keyed and legacy links
// share this encoding; only the function over it differs.
func appendLinkInput(buf, prev []byte, f *linkFields) []byte {
	buf = append(buf, prev...)
	buf = appendInt(buf, f.position)
	buf = appendString(buf, f.streamID)
	buf = appendInt(buf, f.version)
	buf = append(buf, f.eventID[:]...)
	buf = appendString(buf, f.eventType)
	buf = appendInt(buf, int64(f.schemaVersion))
	buf = appendBytes(buf, f.data)
	buf = appendBytes(buf, f.metadata)
	return appendInt(buf, f.recordedAt.UnixMicro())
}

// legacyLink is the unkeyed SHA-256 link of events written before the chain
// was keyed. Anyone can compute it, so it only proves something when a
// keyed link after it seals it.
func legacyLink(prev []byte, f *linkFields) []byte {
	sum := sha256.Sum256(appendLinkInput(make([]byte, 0, 512), prev, f))
	return sum[:]
}

// keyedLink is HMAC-SHA256 under a chain key over the same input.
func keyedLink(k *chainKey, prev []byte, f *linkFields) []byte {
	m := k.get()
	defer k.put(m)
	m.buf = appendLinkInput(m.buf[:0], prev, f)
	m.h.Write(m.buf)
	return m.h.Sum(nil)
}

func linksEqual(a, b []byte) bool { return hmac.Equal(a, b) }

func appendInt(buf []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(buf, uint64(v)) //nolint:gosec // G115: two's-complement bit copy, not a range conversion; the chain's hash format depends on it
}

func appendBytes(buf, b []byte) []byte { return append(appendInt(buf, int64(len(b))), b...) }

func appendString(buf []byte, s string) []byte { return append(appendInt(buf, int64(len(s))), s...) }

// genesisHash is the chain's predecessor of position 1.
func genesisHash() []byte { return make([]byte, sha256.Size) }
