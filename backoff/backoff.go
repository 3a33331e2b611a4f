// Package backoff paces the retries of a failing background loop (the
// relay, the projection runner, the SIEM forwarder): exponential from an
// initial wait up to a ceiling, with jitter so several processes that failed
// together do not retry in lockstep.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// DefaultInitial is the first wait when a Backoff is made without one.
const DefaultInitial = 100 * time.Millisecond

// Backoff is the retry state of one loop: Next after every failure, Reset
// after a success. It is not safe for concurrent use; each loop owns one.
type Backoff struct {
	initial, ceiling time.Duration
	attempts         int
}

// New returns a Backoff whose waits double from initial up to ceiling.
// A non-positive initial takes DefaultInitial; a ceiling below initial is
// raised to it.
func New(initial, ceiling time.Duration) *Backoff {
	if initial <= 0 {
		initial = DefaultInitial
	}
	return &Backoff{initial: initial, ceiling: max(ceiling, initial)}
}

// Ceiling is the longest wait before retry number attempt (1 for the first
// retry): initial doubled attempt-1 times, never above the ceiling.
func (b *Backoff) Ceiling(attempt int) time.Duration {
	if attempt <= 1 {
		return b.initial
	}
	d := b.initial
	for range attempt - 1 {
		if d >= b.ceiling/2 {
			return b.ceiling
		}
		d *= 2
	}
	return min(d, b.ceiling)
}

// Next records a failure and returns how long to wait before the retry: a
// random duration in [Ceiling/2, Ceiling).
func (b *Backoff) Next() time.Duration {
	b.attempts++
	return Jitter(b.Ceiling(b.attempts))
}

// Attempts is the number of failures since the last Reset.
func (b *Backoff) Attempts() int { return b.attempts }

// Reset starts over from the initial wait, after a success.
func (b *Backoff) Reset() { b.attempts = 0 }

// Wait records a failure and sleeps for Next, or until ctx ends; it reports
// whether ctx is still live.
func (b *Backoff) Wait(ctx context.Context) bool { return Sleep(ctx, b.Next()) }

// Jitter spreads d over [d/2, d) ("equal jitter"): retries of processes that
// failed at the same moment spread out, while every wait stays at least
// half of what the schedule asks for.
func Jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half) //nolint:gosec // G404: jitter spreads retries in time; it guards no secret, so math/rand is right
}

// Sleep waits d or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
