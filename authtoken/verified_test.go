package authtoken

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// TestVerifiedTokensAreRememberedExactly checks that a remembered verdict
// is the verdict a full verification would give at the same instant: the
// clock and the token type are checked again on every hit.
func TestVerifiedTokensAreRememberedExactly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		shift time.Duration // clock movement after the first, remembered verification
		as    string        // type the second verification demands
		ok    bool
	}{
		{"same instant, same type", 0, TypeAccess, true},
		{"within the lifetime", 14 * time.Minute, TypeAccess, true},
		{"past expiry, inside the leeway", 15*time.Minute + 4*time.Second, TypeAccess, true},
		{"past expiry and the leeway", 15*time.Minute + 6*time.Second, TypeAccess, false},
		{"clock set back before nbf, inside the leeway", -4 * time.Second, TypeAccess, true},
		{"clock set back before nbf and the leeway", -6 * time.Second, TypeAccess, false},
		{"an access token offered as a refresh token", 0, TypeRefresh, false},
		{"an access token offered as a client token", 0, TypeClient, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			pair, err := f.mgr.IssuePair(f.user, f.session)
			require.NoError(t, err)
			first, err := f.mgr.VerifyAccess(pair.Access.Value)
			require.NoError(t, err)
			require.Equal(t, 1, f.mgr.verified.len(), "a verified token is remembered")

			f.now = f.now.Add(tc.shift)
			cached, cachedErr := f.mgr.verify(pair.Access.Value, tc.as)
			// A Manager that has never seen the token is the oracle.
			fresh, freshErr := f.manager(t, Config{}).verify(pair.Access.Value, tc.as)
			if !tc.ok {
				require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(cachedErr))
				require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(freshErr))
				return
			}
			require.NoError(t, cachedErr)
			require.NoError(t, freshErr)
			require.Equal(t, fresh, cached)
			require.Equal(t, first, cached)
		})
	}
}

func TestRefusedTokensAreNotRemembered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pair, err := f.mgr.IssuePair(f.user, f.session)
	require.NoError(t, err)
	for _, raw := range []string{"", "not.a.token", pair.Refresh.Value, pair.Access.Value + "x"} {
		_, err := f.mgr.VerifyAccess(raw)
		require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
	}
	require.Zero(t, f.mgr.verified.len())
}

func TestVerifiedCacheStaysBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	live := verifiedEntry{claims: Claims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, notBefore: now}
	lapsed := verifiedEntry{claims: Claims{IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}, notBefore: now.Add(-time.Hour)}
	c := newVerifiedCache()
	for i := range 3 * verifiedCacheSize {
		e := live
		if i%3 == 0 {
			e = lapsed
		}
		c.store(sha256.Sum256(fmt.Appendf(nil, "token-%d", i)), e, now, 5*time.Second)
		require.LessOrEqual(t, c.len(), verifiedCacheSize)
	}
	last := sha256.Sum256(fmt.Appendf(nil, "token-%d", 3*verifiedCacheSize-1))
	_, ok := c.lookup(last, now, 5*time.Second)
	require.True(t, ok, "the entry stored last survives the eviction it caused")
	_, ok = c.lookup(sha256.Sum256([]byte("token-0")), now, 5*time.Second)
	require.False(t, ok, "a lapsed entry never answers")
}
