// Package ratelimit provides token buckets per key (a client address, a
// username) with bounded memory, for limits that only need to hold within
// one process.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepInterval bounds how often a full table is scanned for refilled
// buckets, so a flood of new keys costs at most one scan per interval.
const sweepInterval = time.Second

// Keyed is a token bucket per key. A nil *Keyed allows everything, so a
// disabled limit needs no special case at the call site.
type Keyed[K comparable] struct {
	mu        sync.Mutex
	limit     rate.Limit
	burst     int
	max       int
	now       func() time.Time
	buckets   map[K]*rate.Limiter
	lastSweep time.Time
}

// NewKeyed allows perSecond events per key with bursts of burst, and keeps
// at most maxKeys buckets.
func NewKeyed[K comparable](perSecond float64, burst, maxKeys int, now func() time.Time) *Keyed[K] {
	if now == nil {
		now = time.Now
	}
	return &Keyed[K]{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		max:     max(maxKeys, 1),
		now:     now,
		buckets: make(map[K]*rate.Limiter),
	}
}

// Allow takes a token for key, or reports how long until one is available.
func (l *Keyed[K]) Allow(key K) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.buckets[key]
	if !ok {
		l.makeRoom(now)
		lim = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	res.CancelAt(now)
	return false, delay
}

// Len is the number of buckets held.
func (l *Keyed[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// makeRoom keeps the table under its bound. A bucket that has refilled is
// indistinguishable from a new one, so dropping it loses nothing; only when
// every bucket is in use is an arbitrary one dropped, which at worst forgives
// one key's debt.
func (l *Keyed[K]) makeRoom(now time.Time) {
	if len(l.buckets) < l.max {
		return
	}
	if now.Sub(l.lastSweep) >= sweepInterval {
		l.lastSweep = now
		for k, lim := range l.buckets {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, k)
	}
}
