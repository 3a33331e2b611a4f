package ratelimit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/ratelimit"
)

func TestKeyedMemoryIsBounded(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return fixed }
	cases := []struct {
		name string
		max  int
		keys int
	}{
		{"far more keys than slots", 3, 1000},
		{"exactly the bound", 10, 10},
		{"one slot", 1, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := ratelimit.NewKeyed[int](1, 1, tc.max, now)
			for i := range tc.keys {
				l.Allow(i)
				require.LessOrEqual(t, l.Len(), tc.max)
			}
			// A newcomer always gets its own fresh bucket.
			ok, _ := l.Allow(-1)
			require.True(t, ok)
		})
	}
}

func TestKeyedLimitsEachKeyAndSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	current := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ratelimit.NewKeyed[string](0.5, 2, 100, func() time.Time { return current })

	for range 2 {
		ok, _ := l.Allow("a")
		require.True(t, ok, "the burst is allowed")
	}
	ok, wait := l.Allow("a")
	require.False(t, ok)
	require.Equal(t, 2*time.Second, wait, "one token every two seconds")

	ok, _ = l.Allow("b")
	require.True(t, ok, "another key has its own bucket")

	current = current.Add(2 * time.Second)
	ok, _ = l.Allow("a")
	require.True(t, ok, "the bucket refills")
}

func TestNilKeyedAllowsEverything(t *testing.T) {
	t.Parallel()
	var l *ratelimit.Keyed[string]
	ok, wait := l.Allow("anyone")
	require.True(t, ok)
	require.Zero(t, wait)
}
