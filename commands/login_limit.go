package commands

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/securevault/vault/domain"
)

// RateLimitError is an ERATELIMIT error that knows when trying again makes
// sense, so HTTP can answer Retry-After.
type RateLimitError struct {
	Err        *domain.Error
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string { return e.Err.Error() }

// Unwrap lets domain.ErrorCode and domain.ErrorMessage find the code.
func (e *RateLimitError) Unwrap() error { return e.Err }

func newRateLimitError(message string, retryAfter time.Duration) error {
	return &RateLimitError{Err: domain.Errorf(domain.ERATELIMIT, "%s", message), RetryAfter: max(retryAfter, time.Second)}
}

// RetryAfter reports how long err asks the caller to wait, if it says.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// loginLimiter is a token bucket per key (client address or username) with
// bounded memory. It is per process: it blunts floods cheaply, while the
// lockout that must hold across replicas comes from the event log.
type loginLimiter struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	max   int
	now   func() time.Time
	keys  map[string]*rate.Limiter
}

func newLoginLimiter(perSecond float64, burst, maxKeys int, now func() time.Time) *loginLimiter {
	if perSecond < 0 {
		return nil
	}
	return &loginLimiter{limit: rate.Limit(perSecond), burst: burst, max: maxKeys, now: now, keys: map[string]*rate.Limiter{}}
}

// allow takes a token for key, or says how long until one is available. A
// nil limiter allows everything.
func (l *loginLimiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.keys[key]
	if !ok {
		l.makeRoom(now)
		lim = rate.NewLimiter(l.limit, l.burst)
		l.keys[key] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	res.CancelAt(now)
	return false, delay
}

// makeRoom drops refilled buckets (indistinguishable from new ones) and,
// if every bucket is in use, arbitrary ones: at worst that forgives one
// key's debt, which the event-log lockout still backs up.
func (l *loginLimiter) makeRoom(now time.Time) {
	if len(l.keys) < l.max {
		return
	}
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
	for k := range l.keys {
		if len(l.keys) < l.max {
			break
		}
		delete(l.keys, k)
	}
}
