package commands

import (
	"errors"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/ratelimit"
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

// newLoginLimiter is a per-process token bucket per key (client address or
// username): it blunts floods cheaply, while the lockout that must hold
// across replicas comes from the event log. A negative rate disables it.
func newLoginLimiter(perSecond float64, burst, maxKeys int, now func() time.Time) *ratelimit.Keyed[string] {
	if perSecond < 0 {
		return nil
	}
	return ratelimit.NewKeyed[string](perSecond, burst, maxKeys, now)
}
