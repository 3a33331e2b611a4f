package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
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

// writeLink feeds an event's link input to h. Every variable-length field is
// length-prefixed so no two different events share an encoding, and the
// timestamp is written as Unix microseconds, the precision PostgreSQL keeps.
// Keyed and legacy links share this encoding; only the function differs.
func writeLink(h hash.Hash, prev []byte, f *linkFields) {
	h.Write(prev)
	writeInt(h, f.position)
	writeString(h, f.streamID)
	writeInt(h, f.version)
	h.Write(f.eventID[:])
	writeString(h, f.eventType)
	writeInt(h, int64(f.schemaVersion))
	writeBytes(h, f.data)
	writeBytes(h, f.metadata)
	writeInt(h, f.recordedAt.UnixMicro())
}

// legacyLink is the unkeyed SHA-256 link of events written before the chain
// was keyed. Anyone can compute it, so it only proves something when a
// keyed link after it seals it.
func legacyLink(prev []byte, f *linkFields) []byte {
	h := sha256.New()
	writeLink(h, prev, f)
	return h.Sum(nil)
}

// keyedLink is HMAC-SHA256 under a chain key over the same input.
func keyedLink(k *chainKey, prev []byte, f *linkFields) []byte {
	h := k.mac()
	defer k.release(h)
	writeLink(h, prev, f)
	return h.Sum(nil)
}

func linksEqual(a, b []byte) bool { return hmac.Equal(a, b) }

func writeInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}

func writeBytes(h hash.Hash, b []byte) {
	writeInt(h, int64(len(b)))
	h.Write(b)
}

func writeString(h hash.Hash, s string) {
	writeInt(h, int64(len(s)))
	h.Write([]byte(s))
}

// genesisHash is the chain's predecessor of position 1.
func genesisHash() []byte { return make([]byte, sha256.Size) }
