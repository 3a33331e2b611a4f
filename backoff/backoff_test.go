package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/backoff"
)

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tc := range []struct {
		name             string
		initial, ceiling time.Duration
		want             []time.Duration // Ceiling of attempts 1, 2, ...
	}{
		{"doubles up to the ceiling", 100 * ms, time.Second, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{"a ceiling that is not a power of two is reached exactly", 100 * ms, 300 * ms, []time.Duration{100 * ms, 200 * ms, 300 * ms, 300 * ms}},
		{"zero initial takes the default", 0, 30 * time.Second, []time.Duration{backoff.DefaultInitial, 2 * backoff.DefaultInitial}},
		{"a ceiling below initial is raised to it", time.Second, ms, []time.Duration{time.Second, time.Second}},
		{"huge attempt counts never overflow", time.Nanosecond, time.Hour, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := backoff.New(tc.initial, tc.ceiling)
			for i, want := range tc.want {
				require.Equal(t, want, b.Ceiling(i+1), "attempt %d", i+1)
			}
			require.Equal(t, max(tc.ceiling, b.Ceiling(1)), b.Ceiling(10_000), "the ceiling holds for any attempt")
		})
	}
}

func TestBackoffNextIsJitteredAndResets(t *testing.T) {
	t.Parallel()
	b := backoff.New(100*time.Millisecond, 800*time.Millisecond)
	for round := range 2 {
		for attempt := 1; attempt <= 6; attempt++ {
			ceiling := b.Ceiling(attempt)
			d := b.Next()
			require.Equal(t, attempt, b.Attempts(), "round %d", round)
			require.GreaterOrEqual(t, d, ceiling/2, "attempt %d waits at least half its ceiling", attempt)
			require.Less(t, d, ceiling, "attempt %d waits less than its ceiling", attempt)
		}
		b.Reset()
		require.Zero(t, b.Attempts(), "Reset starts over")
	}
}

func TestJitterBounds(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 1, 2, 3, time.Millisecond, time.Minute} {
		for range 100 {
			j := backoff.Jitter(d)
			if d < 2 {
				require.Equal(t, d, j, "too short to spread")
				continue
			}
			require.GreaterOrEqual(t, j, d/2)
			require.Less(t, j, d)
		}
	}
}

func TestWaitStopsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := backoff.New(time.Hour, time.Hour)
	require.False(t, b.Wait(ctx), "a cancelled context ends the wait at once")
	require.Equal(t, 1, b.Attempts(), "the failure is still counted")
	require.True(t, backoff.Sleep(context.Background(), 0))
}
