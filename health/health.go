// Package health records whether a background loop keeps failing: how many
// times in a row, since when and at which step. The relay, the projection
// runner and the checkpoint signer each keep one per loop, so readiness can
// name a component that is stuck rather than merely slow.
package health

import (
	"sync"
	"time"
)

// Streak is the run of consecutive failures of one loop. The zero value is
// a healthy loop; it is safe for concurrent use (the loop writes, a
// readiness probe reads).
type Streak struct {
	mu       sync.Mutex
	failures int
	since    time.Time
	step     string
	err      error
}

// State is a Streak at one instant.
type State struct {
	// Failures in a row; 0 while the loop succeeds.
	Failures int
	// Since is when the first failure of the run happened.
	Since time.Time
	// Step names what failed last, in words an operator understands
	// ("reach the stream", "apply a page").
	Step string
	// Err is the last failure, for the log; it may name hosts or SQL, so it
	// is never shown to an unauthenticated caller.
	Err error
}

// Failing reports whether at least threshold failures happened in a row.
func (s State) Failing(threshold int) bool { return s.Failures >= max(threshold, 1) }

// Fail records a failure of step.
func (s *Streak) Fail(step string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures == 0 {
		s.since = time.Now()
	}
	s.failures++
	s.step, s.err = step, err
}

// Succeed ends the run of failures.
func (s *Streak) Succeed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures, s.since, s.step, s.err = 0, time.Time{}, "", nil
}

// State returns the current run.
func (s *Streak) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return State{Failures: s.failures, Since: s.since, Step: s.step, Err: s.err}
}
