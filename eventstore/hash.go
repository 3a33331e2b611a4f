package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// chainHash computes an event's link in the hash chain. Every variable-length
// field is length-prefixed so no two different events share an encoding, and
// the timestamp is hashed as Unix microseconds, the precision PostgreSQL keeps.
func chainHash(prev []byte, position int64, streamID string, version int64, eventID [16]byte,
	eventType string, schemaVersion int32, data, metadata []byte, recordedAt time.Time) []byte {
	h := sha256.New()
	h.Write(prev)
	writeInt(h, position)
	writeBytes(h, []byte(streamID))
	writeInt(h, version)
	h.Write(eventID[:])
	writeBytes(h, []byte(eventType))
	writeInt(h, int64(schemaVersion))
	writeBytes(h, data)
	writeBytes(h, metadata)
	writeInt(h, recordedAt.UnixMicro())
	return h.Sum(nil)
}

func writeInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}

func writeBytes(h hash.Hash, b []byte) {
	writeInt(h, int64(len(b)))
	h.Write(b)
}

// genesisHash is the chain's predecessor of position 1.
func genesisHash() []byte { return make([]byte, sha256.Size) }
