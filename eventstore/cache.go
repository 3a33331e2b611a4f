package eventstore

import "time"

// maxCachedStreams bounds the writer cache; past it the cache starts over,
// which only costs the next batches a lookup round trip.
const maxCachedStreams = 100_000

// chainHead is the head of the hash chain: the last position, its hash,
// its recorded-at time and the id of the key its link was made with ("" for
// an unkeyed link or the empty log).
type chainHead struct {
	position   int64
	hash       []byte
	recordedAt time.Time
	keyID      string
}

// writerCache is what the writer knew of the log right after its own last
// commit. It is only a guess: fastBatch proves it under the chain-head lock
// (the head must not have moved) before anything it planned takes effect.
type writerCache struct {
	valid    bool
	head     chainHead
	versions map[string]int64
}

// covers reports whether every stream's version is known. An unkeyed head
// is never covered: the slow path must seal it first.
func (c *writerCache) covers(streamIDs []string) bool {
	if !c.valid || (c.head.position > 0 && c.head.keyID == "") {
		return false
	}
	for _, id := range streamIDs {
		if _, ok := c.versions[id]; !ok {
			return false
		}
	}
	return true
}

func (c *writerCache) set(head chainHead, versions map[string]int64) {
	if c.versions == nil || len(c.versions)+len(versions) > maxCachedStreams {
		c.versions = make(map[string]int64, len(versions))
	}
	for id, v := range versions {
		c.versions[id] = v
	}
	c.head = head
	c.valid = true
}

func (c *writerCache) reset() {
	c.valid = false
	c.versions = nil
}
