package api

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepInterval bounds how often a full table is scanned, so a flood of new
// addresses costs at most one scan per interval.
const sweepInterval = time.Second

// clientLimiter is a token bucket per client address with bounded memory.
type clientLimiter struct {
	mu        sync.Mutex
	limit     rate.Limit
	burst     int
	max       int
	now       func() time.Time
	clients   map[netip.Addr]*rate.Limiter
	lastSweep time.Time
}

func newClientLimiter(rps float64, burst, maxClients int, now func() time.Time) *clientLimiter {
	return &clientLimiter{
		limit:   rate.Limit(rps),
		burst:   burst,
		max:     maxClients,
		now:     now,
		clients: make(map[netip.Addr]*rate.Limiter),
	}
}

// allow takes a token for addr, or reports how long until one is available.
func (l *clientLimiter) allow(addr netip.Addr) (bool, time.Duration) {
	key := limiterKey(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[key]
	if !ok {
		l.makeRoom(now)
		lim = rate.NewLimiter(l.limit, l.burst)
		l.clients[key] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	res.CancelAt(now)
	return false, delay
}

// makeRoom keeps the table under its bound. A bucket that has refilled is
// indistinguishable from a new one, so dropping it loses nothing; only when
// every bucket is in use is an arbitrary one dropped, which at worst forgives
// one client's debt.
func (l *clientLimiter) makeRoom(now time.Time) {
	if len(l.clients) < l.max {
		return
	}
	if now.Sub(l.lastSweep) >= sweepInterval {
		l.lastSweep = now
		for k, lim := range l.clients {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.clients, k)
			}
		}
	}
	for k := range l.clients {
		if len(l.clients) < l.max {
			break
		}
		delete(l.clients, k)
	}
}

func (l *clientLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// limiterKey groups IPv6 clients by /64, the block one subscriber usually
// holds, so rotating addresses within it does not multiply the allowance.
func limiterKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}
