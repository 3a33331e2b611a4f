package fold_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// snapshotOnly is a secret the cache cannot copy (its Copy returns a
// *domain.Secret, not a snapshotOnly): it is cached as a snapshot, as
// aggregates without a Copy are.
type snapshotOnly struct{ *domain.Secret }

func restoreSnapshotOnly(state []byte, version int64, rest []domain.RecordedEvent) (snapshotOnly, error) {
	s, err := domain.RestoreSecret(state, version, rest)
	return snapshotOnly{s}, err
}

func loadSnapshotOnly(events []domain.RecordedEvent) (snapshotOnly, error) {
	s, err := domain.LoadSecret(events)
	return snapshotOnly{s}, err
}

// committedSecret is a secret with versions retained past keep, as a
// command leaves it once its append succeeded.
func committedSecret(tb testing.TB, versions int) *domain.Secret {
	tb.Helper()
	s, err := domain.NewSecret(domain.NewID(), "app/cached", "", []string{"team"})
	require.NoError(tb, err)
	for range versions {
		_, err := s.AddVersion(s.NextVersion(), []byte("sealed-value-of-some-length"), "local", false, 10)
		require.NoError(tb, err)
	}
	s.Committed()
	return s
}

// cachedSecret is what a command gets from the cache, whichever way the
// cache holds it.
type cachedSecret func(c *fold.Cache, streamID string) (*domain.Secret, bool, error)

func cachedCopier(c *fold.Cache, streamID string) (*domain.Secret, bool, error) {
	s, _, hit, err := fold.Cached(context.Background(), nil, c, streamID, domain.LoadSecret, domain.RestoreSecret)
	return s, hit, err
}

func cachedSnapshot(c *fold.Cache, streamID string) (*domain.Secret, bool, error) {
	s, _, hit, err := fold.Cached(context.Background(), nil, c, streamID, loadSnapshotOnly, restoreSnapshotOnly)
	return s.Secret, hit, err
}

var cacheKinds = []struct {
	name string
	keep func(c *fold.Cache, s *domain.Secret, position int64)
	get  cachedSecret
}{
	{"copied", func(c *fold.Cache, s *domain.Secret, p int64) { fold.Keep(c, s, p) }, cachedCopier},
	{"snapshot", func(c *fold.Cache, s *domain.Secret, p int64) { fold.Keep(c, snapshotOnly{s}, p) }, cachedSnapshot},
}

// TestCachedHandsEachCallerAnAggregateOfItsOwn: commands change what the
// cache hands them (record a rotation that may then lose its race), so no
// change may reach the cache's entry or another caller, and an older write
// never replaces a newer one.
func TestCachedHandsEachCallerAnAggregateOfItsOwn(t *testing.T) {
	t.Parallel()
	for _, kind := range cacheKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			c := fold.NewCache(10)
			older := committedSecret(t, 12)
			want := older.Summary()
			kind.keep(c, older, 40)

			first, hit, err := kind.get(c, older.StreamID())
			require.NoError(t, err)
			require.True(t, hit)
			require.Equal(t, want, first.Summary())
			_, err = first.AddVersion(first.NextVersion(), []byte("lost race"), "local", false, 10)
			require.NoError(t, err)
			require.NoError(t, first.UpdateMetadata("changed", []string{"other"}))

			second, hit, err := kind.get(c, older.StreamID())
			require.NoError(t, err)
			require.True(t, hit)
			require.Equal(t, want, second.Summary(), "a caller's changes never reach the cache")
			require.Empty(t, second.Changes())

			// A command that wrote a newer version keeps it; a slower one
			// keeping the version it read does not undo that.
			newer, err := second.Copy()
			require.NoError(t, err)
			_, err = newer.AddVersion(newer.NextVersion(), []byte("won"), "local", false, 10)
			require.NoError(t, err)
			newer.Committed()
			kind.keep(c, newer, 41)
			kind.keep(c, older, 40)
			got, hit, err := kind.get(c, older.StreamID())
			require.NoError(t, err)
			require.True(t, hit)
			require.Equal(t, newer.Summary(), got.Summary())
			require.Equal(t, newer.LoadedVersion(), got.LoadedVersion())
		})
	}
}

// BenchmarkCachedHit is what serving a rotated secret from the cache
// costs: a copy against the snapshot's JSON round trip, at the default
// retention of ten live versions.
func BenchmarkCachedHit(b *testing.B) {
	for _, kind := range cacheKinds {
		b.Run(kind.name, func(b *testing.B) {
			c := fold.NewCache(10)
			s := committedSecret(b, 30)
			kind.keep(c, s, 1)
			b.ReportAllocs()
			for b.Loop() {
				got, hit, err := kind.get(c, s.StreamID())
				if err != nil || !hit || got.CurrentVersion() != 30 {
					b.Fatal(fmt.Sprint(hit, err))
				}
			}
		})
	}
}

// BenchmarkKeep is what remembering a written secret costs: a copy against
// its snapshot.
func BenchmarkKeep(b *testing.B) {
	for _, kind := range cacheKinds {
		b.Run(kind.name, func(b *testing.B) {
			c := fold.NewCache(10)
			s := committedSecret(b, 30)
			b.ReportAllocs()
			for b.Loop() {
				kind.keep(c, s, 1)
			}
		})
	}
}
