package health_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/health"
)

func TestStreak(t *testing.T) {
	t.Parallel()
	errA, errB := errors.New("a"), errors.New("b")
	for _, tc := range []struct {
		name      string
		run       func(*health.Streak)
		failures  int
		step      string
		err       error
		failingAt int // the smallest threshold the state counts as failing; 0: never
	}{
		{"a new streak is healthy", func(*health.Streak) {}, 0, "", nil, 0},
		{"failures count in a row and keep the last step", func(s *health.Streak) {
			s.Fail("read", errA)
			s.Fail("publish", errB)
		}, 2, "publish", errB, 2},
		{"a success ends the run", func(s *health.Streak) {
			s.Fail("read", errA)
			s.Succeed()
		}, 0, "", nil, 0},
		{"a run after a success starts from one", func(s *health.Streak) {
			s.Fail("read", errA)
			s.Fail("read", errA)
			s.Succeed()
			s.Fail("publish", errB)
		}, 1, "publish", errB, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s health.Streak
			tc.run(&s)
			st := s.State()
			require.Equal(t, tc.failures, st.Failures)
			require.Equal(t, tc.step, st.Step)
			require.Equal(t, tc.err, st.Err)
			require.Equal(t, tc.failures > 0, !st.Since.IsZero(), "Since is set exactly while failing")
			for threshold := 1; threshold <= 3; threshold++ {
				require.Equal(t, tc.failingAt > 0 && threshold <= tc.failingAt, st.Failing(threshold), "threshold %d", threshold)
			}
		})
	}
}

func TestStreakSinceIsTheFirstFailure(t *testing.T) {
	t.Parallel()
	var s health.Streak
	s.Fail("x", nil)
	first := s.State().Since
	s.Fail("x", nil)
	require.Equal(t, first, s.State().Since)
}

func TestStreakIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	var s health.Streak
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				s.Fail("x", nil)
				_ = s.State()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 400, s.State().Failures)
}
