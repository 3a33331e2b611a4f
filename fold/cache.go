package fold

import (
	"context"
	"sync"
)

// Cache holds the newest state of aggregates the command side folded or
// wrote, so a command need not read their streams again. It is only a
// guess: a command that serves an aggregate from it must have the guess
// proven by its append (the aggregate's expected version, checked under
// the chain head lock) or load again from the log (see Cached).
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cached
}

type cached struct {
	state             []byte
	version, position int64
}

// NewCache returns a cache of at most max aggregates (past it, it starts
// over).
func NewCache(max int) *Cache {
	return &Cache{max: max, entries: map[string]cached{}}
}

// Put remembers agg (its loaded version, with nothing pending) and the
// position of its last event. An aggregate without a snapshot layout is not
// cached.
func (c *Cache) Put(agg Aggregate, position int64) {
	if c == nil {
		return
	}
	state, version, err := agg.Snapshot()
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.entries[agg.StreamID()]; ok && prev.version > version {
		return // a newer write got here first
	}
	if len(c.entries) >= c.max {
		c.entries = map[string]cached{}
	}
	c.entries[agg.StreamID()] = cached{state: state, version: version, position: position}
}

// Forget drops a stream's entry: it proved stale.
func (c *Cache) Forget(streamID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, streamID)
}

// Cached is Latest served from the cache when it holds the stream, each
// caller getting an aggregate of its own; fromCache tells the caller that
// the answer is a guess still to be proven. A miss folds the log and fills
// the cache. With c nil it is Latest.
func Cached[A Aggregate](ctx context.Context, l *Loader, c *Cache, streamID string, load LoadFunc[A], restore RestoreFunc[A]) (agg A, position int64, fromCache bool, err error) {
	if c != nil {
		c.mu.Lock()
		e, ok := c.entries[streamID]
		c.mu.Unlock()
		if ok {
			if agg, err := restore(e.state, e.version, nil); err == nil && agg.StreamID() == streamID {
				return agg, e.position, true, nil
			}
			c.Forget(streamID)
		}
	}
	agg, position, err = Latest(ctx, l, streamID, load, restore)
	if err == nil && position > 0 {
		c.Put(agg, position)
	}
	return agg, position, false, err
}
