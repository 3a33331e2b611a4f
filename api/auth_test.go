package api

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

func TestLoginAnswersTheTokenContract(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "ADMIN", "password": testAdminPassword})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.Equal(t, "no-store", res.header.Get("Cache-Control"))
	m := res.json(t)
	require.Len(t, m, 4, "exactly access_token, refresh_token, token_type, expires_in")
	require.Equal(t, "Bearer", m["token_type"])
	require.Equal(t, float64(900), m["expires_in"])
	access := m["access_token"].(string)
	require.NotEmpty(t, m["refresh_token"])

	// The access token works on an endpoint that needs the admin.
	list := e.do(http.MethodGet, "/api/v1/users", access, nil)
	require.Equal(t, http.StatusOK, list.code, string(list.raw))

	// The log holds LoginSucceeded and SessionStarted, never the password.
	var sawLogin, sawSession bool
	for _, ev := range e.allEvents() {
		require.NotContains(t, string(ev.Data), testAdminPassword)
		require.NotContains(t, string(ev.Data), access)
		sawLogin = sawLogin || ev.Type == domain.EventLoginSucceeded
		sawSession = sawSession || ev.Type == domain.EventSessionStarted
	}
	require.True(t, sawLogin)
	require.True(t, sawSession)
}

func TestRefreshRotatesAndReuseKillsTheSession(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	first := e.admin()

	res := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.Refresh})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	m := res.json(t)
	second := tokenPair{Access: m["access_token"].(string), Refresh: m["refresh_token"].(string)}
	require.NotEqual(t, first.Refresh, second.Refresh)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users", second.Access, nil).code)

	// The spent token is refused, and the whole session with it.
	reuse := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.Refresh})
	require.Equal(t, http.StatusUnauthorized, reuse.code)
	require.Equal(t, domain.EUNAUTHORIZED, reuse.errorCode(t))
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users", second.Access, nil).code)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.Refresh}).code)

	claims, err := e.tokens.VerifyRefresh(second.Refresh)
	require.NoError(t, err)
	require.Equal(t, []string{domain.EventSessionStarted, domain.EventSessionRefreshed, domain.EventRefreshReuseDetected},
		e.streamTypes(domain.StreamID(domain.SessionAggregate, claims.SessionID)))
}

func TestLogoutRevokesBothTokensAtOnce(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	pair := e.admin()
	other := e.admin()

	res := e.do(http.MethodPost, "/api/v1/auth/logout", pair.Access, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	require.NotEmpty(t, res.header.Get(HeaderPosition))

	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users", pair.Access, nil).code)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": pair.Refresh}).code)
	// Another session of the same user is untouched.
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users", other.Access, nil).code)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/logout", "", nil).code)
}

// signWith signs claims with an arbitrary method and key, keeping the
// keyring's kid so only the algorithm or key is wrong.
func signWith(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestTokenAttacksAreRefused(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	adminPair := e.admin()
	claims, err := e.tokens.VerifyAccess(adminPair.Access)
	require.NoError(t, err)
	now := time.Now()
	valid := jwt.MapClaims{
		"iss": "securevault", "aud": []string{"securevault-api"}, "sub": claims.UserID, "sid": claims.SessionID,
		"jti": domain.NewID(), "typ": authtoken.TypeAccess,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	kid := e.keys.ActiveKeyID()

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherKeys, err := authtoken.NewKeyring(rand.Text() + rand.Text())
	require.NoError(t, err)
	otherManager, err := authtoken.New(otherKeys, authtoken.Config{})
	require.NoError(t, err)
	forged, err := otherManager.IssuePair(claims.UserID, claims.SessionID)
	require.NoError(t, err)
	past, err := authtoken.New(e.keys, authtoken.Config{Now: func() time.Time { return now.Add(-time.Hour) }})
	require.NoError(t, err)
	expired, err := past.IssuePair(claims.UserID, claims.SessionID)
	require.NoError(t, err)

	unsigned := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, valid)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}()
	// A user whose account is deleted after logging in.
	victimID := e.create("/api/v1/users", adminPair.Access, map[string]any{"username": "victim", "password": "tortoise and hare 1234"})
	victim := e.login("victim", "tortoise and hare 1234")
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/api/v1/users/"+victimID, adminPair.Access, nil).code)
	// A session logged out.
	loggedOut := e.admin()
	require.Equal(t, http.StatusNoContent, e.do(http.MethodPost, "/api/v1/auth/logout", loggedOut.Access, nil).code)
	// A session killed by refresh-token reuse.
	reused := e.admin()
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": reused.Refresh}).code)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": reused.Refresh}).code)

	cases := []struct {
		name  string
		token string
	}{
		{"alg none", unsigned},
		{"HS/RS confusion: RS256 with the right kid", signWith(t, jwt.SigningMethodRS256, rsaKey, kid, valid)},
		{"wrong signature", forged.Access.Value},
		{"tampered payload", adminPair.Access[:strings.LastIndexByte(adminPair.Access, '.')-2] + "xx" + adminPair.Access[strings.LastIndexByte(adminPair.Access, '.'):]},
		{"expired", expired.Access.Value},
		{"refresh token used as access token", adminPair.Refresh},
		{"access token after logout", loggedOut.Access},
		{"access token of a session killed by reuse", reused.Access},
		{"token of a deleted user", victim.Access},
		{"garbage", "not.a.jwt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(http.MethodGet, "/api/v1/users", tc.token, nil)
			require.Equal(t, http.StatusUnauthorized, res.code, string(res.raw))
			require.Equal(t, domain.EUNAUTHORIZED, res.errorCode(t))
			require.Contains(t, res.header.Get("WWW-Authenticate"), "Bearer")
		})
	}
	t.Run("missing or non-bearer header", func(t *testing.T) {
		for _, h := range []string{"", "Basic YWRtaW46eA==", "Bearer", "Bearer "} {
			res := e.do(http.MethodGet, "/api/v1/users", "", nil, withHeader("Authorization", h))
			require.Equal(t, http.StatusUnauthorized, res.code, h)
		}
	})
	t.Run("spent refresh token of a deleted user", func(t *testing.T) {
		res := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": victim.Refresh})
		require.Equal(t, http.StatusUnauthorized, res.code)
	})
	// The genuine token still works: every refusal above was the attack's.
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users", adminPair.Access, nil).code)
}

func TestWrongCredentialsLookTheSameWhetherOrNotTheUserExists(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	attempt := func(username string) (response, int64) {
		before := e.hasher.verifications.Load()
		res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": "wrong password attempt"})
		return res, e.hasher.verifications.Load() - before
	}
	known, knownWork := attempt(domain.AdminUsername)
	unknown, unknownWork := attempt("nobody-here")
	invalid, invalidWork := attempt("x")
	for _, res := range []response{known, unknown, invalid} {
		require.Equal(t, http.StatusUnauthorized, res.code)
		require.Equal(t, string(known.raw), string(res.raw), "same status and body on every path")
	}
	require.Equal(t, int64(1), knownWork, "one Argon2id verification for a known user")
	require.Equal(t, int64(1), unknownWork, "one for an unknown user")
	require.Equal(t, int64(1), invalidWork, "one for an invalid username")

	// The failures are events; the attempted password is in none of them.
	var userFailures, unknownFailures int
	for _, ev := range e.allEvents() {
		require.NotContains(t, string(ev.Data), "wrong password attempt")
		if ev.Type == domain.EventLoginFailed {
			switch ev.Aggregate() {
			case domain.UserAggregate:
				userFailures++
			case commands.LoginAttemptAggregate:
				unknownFailures++
				require.NotContains(t, ev.StreamID, "nobody-here")
			}
		}
	}
	require.Equal(t, 1, userFailures)
	require.Equal(t, 2, unknownFailures)
}

func TestRepeatedFailuresLockTheAccountAcrossRequests(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true, identity: commands.IdentityOptions{
		Lockout: domain.LockoutPolicy{Threshold: 3, Base: time.Hour, Max: 4 * time.Hour},
	}})
	for _, username := range []string{domain.AdminUsername, "ghost-user"} {
		t.Run(username, func(t *testing.T) {
			for range 3 {
				res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": "not the password!"})
				require.Equal(t, http.StatusUnauthorized, res.code)
			}
			// Locked now: even the right password is refused, with 429.
			res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": testAdminPassword})
			require.Equal(t, http.StatusTooManyRequests, res.code, string(res.raw))
			require.Equal(t, domain.ERATELIMIT, res.errorCode(t))
			secs, err := strconv.Atoi(res.header.Get("Retry-After"))
			require.NoError(t, err)
			require.Greater(t, secs, 3000, "about the base interval of an hour")
			// The next failure doubles it.
			res = e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": testAdminPassword})
			require.Equal(t, http.StatusTooManyRequests, res.code)
			secs2, err := strconv.Atoi(res.header.Get("Retry-After"))
			require.NoError(t, err)
			require.Greater(t, secs2, 2*3000)
		})
	}
	// The lockout comes from the log: a second replica (a second Identity
	// over the same store) refuses the admin at that address too.
	other := newIdentityEnvSharing(t, e, commands.IdentityOptions{Lockout: domain.LockoutPolicy{Threshold: 3, Base: time.Hour, Max: 4 * time.Hour}})
	_, err := other.Login(t.Context(), domain.Caller{ClientIP: "192.0.2.1"}, domain.AdminUsername, testAdminPassword)
	require.Equal(t, domain.ERATELIMIT, domain.ErrorCode(err))
}

func TestLoginRateLimitsPerAddressAndPerAccount(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true, identity: commands.IdentityOptions{
		LoginIPRate: 0.001, LoginIPBurst: 4, LoginAccountRate: 0.001, LoginAccountBurst: 2,
		Lockout: domain.LockoutPolicy{Threshold: 100, Base: time.Minute, Max: time.Hour},
	}})
	login := func(username, ip string) response {
		return e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": "wrong wrong wrong"}, withIP(ip))
	}
	t.Run("per address", func(t *testing.T) {
		for _, name := range []string{"someone-a", "someone-b", "someone-c", "someone-d"} {
			require.Equal(t, http.StatusUnauthorized, login(name, "198.51.100.1").code)
		}
		res := login("someone-e", "198.51.100.1")
		require.Equal(t, http.StatusTooManyRequests, res.code)
		require.NotEmpty(t, res.header.Get("Retry-After"))
		require.Equal(t, http.StatusUnauthorized, login("someone-c", "198.51.100.2").code, "another address is not limited")
	})
	t.Run("per account and address", func(t *testing.T) {
		for i := range 3 {
			ip := "203.0.113." + strconv.Itoa(i+1)
			require.Equal(t, http.StatusUnauthorized, login("target", ip).code)
			require.Equal(t, http.StatusUnauthorized, login("target", ip).code)
		}
		res := login("TARGET", "203.0.113.1")
		require.Equal(t, http.StatusTooManyRequests, res.code, "case does not make a new account")
		require.NotEmpty(t, res.header.Get("Retry-After"))
		require.Contains(t, string(res.raw), "for this account", "the account limit answered, not the address limit")
		require.Equal(t, http.StatusUnauthorized, login("target", "203.0.113.99").code,
			"a flood from other addresses never rate-limits the owner's address")
	})
}

func TestConcurrentRefreshesWithOneTokenHaveOneWinner(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	pair := e.admin()
	const n = 4
	codes := make(chan int, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			codes <- e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": pair.Refresh}).code
		}()
	}
	close(start)
	won := 0
	for range n {
		if <-codes == http.StatusOK {
			won++
		}
	}
	require.Equal(t, 1, won, "a refresh token buys exactly one new pair")
	// Every loser presented a spent token, so the session is dead whatever
	// the winner got.
	types := e.streamTypes(domain.StreamID(domain.SessionAggregate, sessionOf(t, e, pair)))
	require.Contains(t, types, domain.EventRefreshReuseDetected)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/users", pair.Access, nil).code)
}
