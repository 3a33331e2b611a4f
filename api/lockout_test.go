package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// Lockout must not be a weapon: failures lock the address they came from
// out of the account, never the owner elsewhere.

func loginFrom(e *identityEnv, username, password, ip string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": password}, withIP(ip))
}

func TestOwnerLogsInFromACleanAddressWhileTheAttackerIsLockedOut(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true, identity: commands.IdentityOptions{
		Lockout: domain.LockoutPolicy{Threshold: 5, Base: time.Hour, Max: 4 * time.Hour, AccountThreshold: 50, AccountWindow: time.Hour},
	}})
	const attacker, owner = "203.0.113.66", "198.51.100.7"
	for _, username := range []string{domain.AdminUsername, "nobody-here"} {
		t.Run(username, func(t *testing.T) {
			for range 5 {
				require.Equal(t, http.StatusUnauthorized, loginFrom(e, username, "guess guess guess", attacker).code)
			}
			res := loginFrom(e, username, testAdminPassword, attacker)
			require.Equal(t, http.StatusTooManyRequests, res.code, "the attacker's address is locked out, even with the right password: %s", res.raw)
			require.NotEmpty(t, res.header.Get("Retry-After"))
		})
	}
	res := loginFrom(e, domain.AdminUsername, testAdminPassword, owner)
	require.Equal(t, http.StatusOK, res.code, "the owner at another address is not: %s", res.raw)
	// An IPv6 attacker cannot step aside within its /64.
	for i := range 5 {
		require.Equal(t, http.StatusUnauthorized, loginFrom(e, domain.AdminUsername, "guess guess guess", fmt.Sprintf("2001:db8:1:2::%x", i+1)).code)
	}
	require.Equal(t, http.StatusTooManyRequests, loginFrom(e, domain.AdminUsername, testAdminPassword, "2001:db8:1:2::99").code)
	require.Equal(t, http.StatusOK, loginFrom(e, domain.AdminUsername, testAdminPassword, "2001:db8:1:3::1").code)

	// The lockout is decided from the log, so another replica agrees.
	other := newIdentityEnvSharing(t, e, commands.IdentityOptions{Lockout: e.opts.Lockout})
	_, err := other.Login(t.Context(), domain.Caller{ClientIP: attacker}, domain.AdminUsername, testAdminPassword)
	require.Equal(t, domain.ERATELIMIT, domain.ErrorCode(err))
	_, err = other.Login(t.Context(), domain.Caller{ClientIP: owner}, domain.AdminUsername, testAdminPassword)
	require.NoError(t, err)
}

func TestDistributedGuessingIsSlowedButACleanAddressStillGetsIn(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true, identity: commands.IdentityOptions{
		Lockout: domain.LockoutPolicy{Threshold: 5, Base: time.Hour, Max: 4 * time.Hour, AccountThreshold: 8, AccountWindow: time.Hour},
	}})
	// Four addresses, two guesses each: none reaches the per-address
	// threshold, so none is locked yet, but the account reaches its ceiling.
	for round := range 2 {
		for i := range 4 {
			res := loginFrom(e, domain.AdminUsername, "guess guess guess", fmt.Sprintf("203.0.113.%d", i+1))
			require.Equal(t, http.StatusUnauthorized, res.code, "round %d, address %d: %s", round, i, res.raw)
		}
	}
	// Past the ceiling a single failure locks an address: every attacker
	// address is out, so guessing slows to one try per address per lockout.
	for i := range 4 {
		res := loginFrom(e, domain.AdminUsername, testAdminPassword, fmt.Sprintf("203.0.113.%d", i+1))
		require.Equal(t, http.StatusTooManyRequests, res.code, string(res.raw))
	}
	// A fresh address gets one try; a miss locks it at once.
	require.Equal(t, http.StatusUnauthorized, loginFrom(e, domain.AdminUsername, "guess guess guess", "203.0.113.50").code)
	require.Equal(t, http.StatusTooManyRequests, loginFrom(e, domain.AdminUsername, testAdminPassword, "203.0.113.50").code)
	// The owner's correct password from a clean address always works.
	res := loginFrom(e, domain.AdminUsername, testAdminPassword, "198.51.100.7")
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	res = loginFrom(e, domain.AdminUsername, testAdminPassword, "198.51.100.7")
	require.Equal(t, http.StatusOK, res.code, "and keeps working: %s", res.raw)
}
