package domain

import "sync"

// The event log's own bookkeeping stream. It holds one event: the seal the
// store appends when it first keys a log whose links were plain SHA-256.
const (
	ChainAggregate = "chain"
	// ChainSealStream holds the ChainKeyed event; there is never a second
	// one, so the stream is appended to with "no stream" semantics.
	ChainSealStream = ChainAggregate + "-seal"

	EventChainKeyed         = "ChainKeyed"
	ChainKeyedSchemaVersion = 1
)

// ChainKeyed is the first keyed link of a log that began unkeyed. Its link
// is an HMAC over SealedHash (the last SHA-256 link), so it commits to every
// event before it; SealedPosition tells readers where unkeyed links stop
// being acceptable. KeyID is the fingerprint of the key that sealed, never
// the key.
type ChainKeyed struct {
	SealedPosition int64  `json:"sealed_position"`
	SealedHash     string `json:"sealed_hash"`
	KeyID          string `json:"key_id"`
}

var chainRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[ChainKeyed](r, EventChainKeyed, ChainKeyedSchemaVersion)
	return r
})

// ChainEvents is the registry of the chain seal stream's one event, which
// the event store appends itself.
func ChainEvents() *Registry { return chainRegistry() }
