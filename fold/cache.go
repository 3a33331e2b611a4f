package fold

import (
	"context"
	"fmt"
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
	// held is the cache's own copy of a Copier aggregate, never handed
	// out; state is the snapshot of any other.
	held              any
	state             []byte
	version, position int64
}

// Copier is an aggregate that copies itself cheaper than a round trip
// through its snapshot (domain.Secret does): the cache then holds a copy
// and hands each caller a copy of that.
type Copier[A any] interface {
	Copy() (A, error)
	LoadedVersion() int64
}

// NewCache returns a cache of at most max aggregates (past it, it starts
// over).
func NewCache(max int) *Cache {
	return &Cache{max: max, entries: map[string]cached{}}
}

// Keep remembers agg (its loaded version, with nothing pending) and the
// position of its last event: a copy of it when it is a Copier, otherwise
// its snapshot. An aggregate that can be neither is not cached.
func Keep[A Aggregate](c *Cache, agg A, position int64) {
	if c == nil {
		return
	}
	e := cached{position: position}
	if cp, ok := any(agg).(Copier[A]); ok {
		held, err := cp.Copy()
		if err != nil {
			return
		}
		e.held, e.version = held, cp.LoadedVersion()
	} else {
		state, version, err := agg.Snapshot()
		if err != nil {
			return
		}
		e.state, e.version = state, version
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.entries[agg.StreamID()]; ok && prev.version > e.version {
		return // a newer write got here first
	}
	if len(c.entries) >= c.max {
		c.entries = map[string]cached{}
	}
	c.entries[agg.StreamID()] = e
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
			if agg, err := hand(e, restore); err == nil && agg.StreamID() == streamID {
				return agg, e.position, true, nil
			}
			c.Forget(streamID)
		}
	}
	agg, position, err = Latest(ctx, l, streamID, load, restore)
	if err == nil && position > 0 {
		Keep(c, agg, position)
	}
	return agg, position, false, err
}

// hand returns an aggregate of the caller's own from an entry.
func hand[A Aggregate](e cached, restore RestoreFunc[A]) (A, error) {
	if e.held == nil {
		return restore(e.state, e.version, nil)
	}
	held, ok := e.held.(Copier[A])
	if !ok {
		var zero A
		return zero, fmt.Errorf("the cache holds %T, not a %T", e.held, zero)
	}
	return held.Copy()
}
