package eventstore

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkLink compares the keyed link of an event-shaped row (about 300
// bytes of fields) with the unkeyed SHA-256 link it replaced: the cost the
// keyed chain adds to every append and every read.
func BenchmarkLink(b *testing.B) {
	keys, err := NewChainKeys([]byte("benchmark-chain-key-benchmark-chain-key!"))
	if err != nil {
		b.Fatal(err)
	}
	f := linkFields{
		position: 123456, streamID: "secret-6f1c3f9e-4a8d-4c55-9b0e-0a1d2c3b4a59", version: 7, eventID: uuid.New(),
		eventType: "SecretVersionAdded", schemaVersion: 1,
		data:       []byte(`{"secret_id":"6f1c3f9e-4a8d-4c55-9b0e-0a1d2c3b4a59","name":"prod/db/password","version":3,"tags":["db","prod"]}`),
		metadata:   []byte(`{"actor":"6f1c3f9e-4a8d-4c55-9b0e-0a1d2c3b4a59","actor_name":"alice","client_ip":"203.0.113.7","user_agent":"curl/8.5","request_id":"01JD3M6Y2W9Q8Z7X5V4T3S2R1P"}`),
		recordedAt: time.Now(),
	}
	prev := genesisHash()
	b.Run("sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			legacyLink(prev, &f)
		}
	})
	b.Run("hmac-sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			keyedLink(keys.current, prev, &f)
		}
	})
}
