package domain_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// The compact state (live versions plus the current version) must answer
// every question the aggregate is asked exactly as a record of every
// version would: random rotations under retention, manual destroys of any
// version, deletes and restores, checked after every step and after a
// reload and a snapshot round trip.
func TestSecretCompactStateAnswersLikeEveryVersion(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		c := &committer{}
		s, err := domain.NewSecret(domain.NewID(), "app/model", "", nil)
		require.NoError(t, err)
		destroyed := map[int64]bool{} // the model: every version ever added, destroyed or not
		var added int64
		keep := 1 + rng.IntN(6)
		for step := range 300 {
			switch r := rng.IntN(10); {
			case r < 5:
				gone, err := s.AddVersion(s.NextVersion(), []byte("sealed"), "local", false, keep)
				if s.Deleted() {
					require.Equal(t, domain.EGONE, domain.ErrorCode(err))
					break
				}
				require.NoError(t, err)
				added++
				for _, v := range gone {
					require.False(t, destroyed[v], "retention destroys live versions only")
					destroyed[v] = true
				}
			case r < 8:
				v := rng.Int64N(added+3) - 1
				err := s.DestroyVersion(v)
				if v < 1 || v > added {
					require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
					break
				}
				require.NoError(t, err)
				destroyed[v] = true
			case r < 9:
				require.NoError(t, s.Delete())
			default:
				require.NoError(t, s.Restore())
			}
			if step%7 == 0 {
				c.commit(s)
				if s, err = domain.LoadSecret(c.events); err != nil {
					t.Fatal(err)
				}
			}
			var live []int64
			for v := int64(1); v <= added; v++ {
				if !destroyed[v] {
					live = append(live, v)
				}
			}
			require.Equal(t, added, s.CurrentVersion())
			require.Equal(t, live, s.LiveVersions())
			require.LessOrEqual(t, len(live), keep)
			for v := int64(-1); v <= added+1; v++ {
				require.Equal(t, slices.Contains(live, v), s.IsLive(v), "version %d", v)
				_, err := s.Revealable(v)
				switch {
				case s.Deleted():
					require.Equal(t, domain.EGONE, domain.ErrorCode(err))
				case v == 0 && added == 0, v < 0, v > added:
					require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "version %d", v)
				case v == 0 && destroyed[added], v > 0 && destroyed[v]:
					require.Equal(t, domain.EGONE, domain.ErrorCode(err), "version %d", v)
				default:
					require.NoError(t, err, "version %d", v)
				}
			}
		}
		c.commit(s)
		snap, version, err := s.Snapshot()
		require.NoError(t, err)
		restored, err := domain.RestoreSecret(snap, version, nil)
		require.NoError(t, err)
		require.Equal(t, s.LiveVersions(), restored.LiveVersions())
		require.Equal(t, s.CurrentVersion(), restored.CurrentVersion())
		for _, v := range s.LiveVersions() {
			in, ok := restored.AddedIn(v)
			require.True(t, ok)
			require.Equal(t, domain.EventSecretVersionAdded, c.events[in-1].Type, "version %d was added by event %d", v, in)
		}
	}
}

// A snapshot holds live versions only, so it does not grow with the
// history: 10,000 rotations under the default retention snapshot to about
// the size of 20.
func TestSecretSnapshotStaysCompact(t *testing.T) {
	t.Parallel()
	size := func(rotations int) int {
		c := &committer{}
		s := newCommittedSecret(t, c, domain.DefaultKeepVersions, rotations)
		snap, _, err := s.Snapshot()
		require.NoError(t, err)
		return len(snap)
	}
	small, large := size(20), size(10_000)
	// Only the numbers in it grow a digit or two.
	require.LessOrEqual(t, large, small+64, "20 versions: %d bytes, 10,000 versions: %d bytes", small, large)
}

// The user's profile version is the last event that changed the profile;
// logins after it do not move it.
func TestUserProfileVersion(t *testing.T) {
	t.Parallel()
	c := &committer{}
	u, err := domain.NewUser(domain.NewID(), "profiled", "", sealedPw(1))
	require.NoError(t, err)
	c.commit(u)
	require.Equal(t, int64(1), u.ProfileVersion())
	require.NoError(t, u.UpdateEmail("p@example.com"))
	require.NoError(t, u.RecordLoginSucceeded(domain.NewID(), "203.0.113.7", time.Now()))
	require.NoError(t, u.RecordLoginFailed(domain.LoginFailBadPassword, "203.0.113.7", time.Now()))
	c.commit(u)
	require.Equal(t, int64(2), u.ProfileVersion())
	loaded, err := domain.LoadUser(c.events)
	require.NoError(t, err)
	require.Equal(t, int64(2), loaded.ProfileVersion())
	require.NoError(t, loaded.Disable())
	require.Equal(t, int64(5), loaded.ProfileVersion())
}
