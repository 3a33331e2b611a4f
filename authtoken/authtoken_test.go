package authtoken

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

const (
	secretA = "0123456789abcdefghijklmnopqrstuvwxyz-A"
	secretB = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210-B"
)

type fixture struct {
	keys    *Keyring
	mgr     *Manager
	now     time.Time
	user    string
	session string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	keys, err := NewKeyring(secretA)
	require.NoError(t, err)
	f := &fixture{keys: keys, now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), user: domain.NewID(), session: domain.NewID()}
	f.mgr = f.manager(t, Config{})
	return f
}

// manager returns a Manager with f's keys and clock unless cfg sets them.
func (f *fixture) manager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return f.now }
	}
	m, err := New(f.keys, cfg)
	require.NoError(t, err)
	return m
}

// claims are valid access-token claims at f.now, for tests to spoil.
func (f *fixture) claims() jwtClaims {
	return jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "securevault", Subject: f.user, Audience: jwt.ClaimStrings{"securevault-api"},
			ExpiresAt: jwt.NewNumericDate(f.now.Add(time.Minute)), NotBefore: jwt.NewNumericDate(f.now),
			IssuedAt: jwt.NewNumericDate(f.now), ID: domain.NewID(),
		},
		SessionID: f.session, Type: TypeAccess,
	}
}

// sign signs claims with method and key, with kid as the key id header.
func sign(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func (f *fixture) signActive(t *testing.T, claims jwt.Claims) string {
	return sign(t, jwt.SigningMethodHS256, claims, f.keys.activeID, f.keys.keys[f.keys.activeID])
}

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pair, err := f.mgr.IssuePair(f.user, f.session)
	require.NoError(t, err)
	require.NotEqual(t, pair.Access.ID, pair.Refresh.ID)
	require.Equal(t, f.now.Add(15*time.Minute), pair.Access.ExpiresAt)
	require.Equal(t, f.now.Add(7*24*time.Hour), pair.Refresh.ExpiresAt)

	access, err := f.mgr.VerifyAccess(pair.Access.Value)
	require.NoError(t, err)
	require.Equal(t, Claims{UserID: f.user, SessionID: f.session, TokenID: pair.Access.ID, Type: TypeAccess, IssuedAt: f.now, ExpiresAt: pair.Access.ExpiresAt}, access)
	refresh, err := f.mgr.VerifyRefresh(pair.Refresh.Value)
	require.NoError(t, err)
	require.Equal(t, TypeRefresh, refresh.Type)
	require.Equal(t, pair.Refresh.ID, refresh.TokenID)

	t.Run("header pins HS256 and names the key", func(t *testing.T) {
		header, err := base64.RawURLEncoding.DecodeString(strings.Split(pair.Access.Value, ".")[0])
		require.NoError(t, err)
		var h map[string]any
		require.NoError(t, json.Unmarshal(header, &h))
		require.Equal(t, "HS256", h["alg"])
		require.Equal(t, f.keys.ActiveKeyID(), h["kid"])
	})
	t.Run("token values never reach fmt or slog", func(t *testing.T) {
		require.NotContains(t, fmt.Sprint(pair.Access), pair.Access.Value)
		require.NotContains(t, fmt.Sprintf("%v %+v %#v %#v", pair, pair.Refresh, pair.Refresh, pair), pair.Refresh.Value)
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("issued", "access", pair.Access, "refresh", pair.Refresh)
		require.NotContains(t, buf.String(), pair.Access.Value)
		require.NotContains(t, buf.String(), pair.Refresh.Value)
		require.Contains(t, buf.String(), pair.Access.ID)
	})
	t.Run("configurable lifetimes", func(t *testing.T) {
		m := f.manager(t, Config{AccessTTL: time.Minute, RefreshTTL: time.Hour})
		p, err := m.IssuePair(f.user, f.session)
		require.NoError(t, err)
		require.Equal(t, f.now.Add(time.Minute), p.Access.ExpiresAt)
		require.Equal(t, f.now.Add(time.Hour), p.Refresh.ExpiresAt)
	})
}

func TestTokenAttacksAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pair, err := f.mgr.IssuePair(f.user, f.session)
	require.NoError(t, err)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	other, err := NewKeyring(secretB)
	require.NoError(t, err)
	kid := f.keys.activeID
	later := func(d time.Duration) *Manager {
		return f.manager(t, Config{Now: func() time.Time { return f.now.Add(d) }})
	}
	spoil := func(change func(*jwtClaims)) string {
		c := f.claims()
		change(&c)
		return f.signActive(t, c)
	}
	tamper := func(token string, change func(map[string]any)) string {
		parts := strings.Split(token, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(payload, &m))
		change(m)
		payload, err = json.Marshal(m)
		require.NoError(t, err)
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		return strings.Join(parts, ".")
	}

	cases := []struct {
		name    string
		token   string
		refresh bool // verify as a refresh token
		manager *Manager
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, f.claims(), kid, jwt.UnsafeAllowNoneSignatureType), false, nil},
		{"alg none with the signature stripped from a real token", func() string {
			parts := strings.Split(pair.Access.Value, ".")
			header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + kid + `","typ":"JWT"}`))
			return header + "." + parts[1] + "."
		}(), false, nil},
		{"RS256 token signed with an attacker's RSA key", sign(t, jwt.SigningMethodRS256, f.claims(), kid, rsaKey), false, nil},
		{"HS256 token keyed with the RSA public key bytes", sign(t, jwt.SigningMethodHS256, f.claims(), kid, pubPEM), false, nil},
		{"HS512 token with the right key", sign(t, jwt.SigningMethodHS512, f.claims(), kid, f.keys.keys[kid]), false, nil},
		{"wrong signature: another key under our kid", sign(t, jwt.SigningMethodHS256, f.claims(), kid, other.keys[other.activeID]), false, nil},
		{"wrong signature: raw SECRET_KEY instead of the derived key", sign(t, jwt.SigningMethodHS256, f.claims(), kid, []byte(secretA)), false, nil},
		{"wrong signature: flipped bytes", func() string {
			parts := strings.Split(pair.Access.Value, ".")
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			require.NoError(t, err)
			sig[0] ^= 0xff
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}(), false, nil},
		{"tampered payload: another user", tamper(pair.Access.Value, func(m map[string]any) { m["sub"] = domain.NewID() }), false, nil},
		{"tampered payload: refresh promoted to access", tamper(pair.Refresh.Value, func(m map[string]any) { m["typ"] = TypeAccess }), false, nil},
		{"unknown kid", sign(t, jwt.SigningMethodHS256, f.claims(), "not-a-key", f.keys.keys[kid]), false, nil},
		{"no kid", sign(t, jwt.SigningMethodHS256, f.claims(), "", f.keys.keys[kid]), false, nil},
		{"kid of a key from another deployment", sign(t, jwt.SigningMethodHS256, f.claims(), other.activeID, other.keys[other.activeID]), false, nil},
		{"expired", pair.Access.Value, false, later(15*time.Minute + 6*time.Second)},
		{"expired refresh token", pair.Refresh.Value, true, later(7*24*time.Hour + time.Minute)},
		{"not yet valid", spoil(func(c *jwtClaims) { c.NotBefore = jwt.NewNumericDate(f.now.Add(time.Hour)) }), false, nil},
		{"issued in the future", spoil(func(c *jwtClaims) { c.IssuedAt = jwt.NewNumericDate(f.now.Add(time.Hour)) }), false, nil},
		{"no exp", spoil(func(c *jwtClaims) { c.ExpiresAt = nil }), false, nil},
		{"no nbf", spoil(func(c *jwtClaims) { c.NotBefore = nil }), false, nil},
		{"no iat", spoil(func(c *jwtClaims) { c.IssuedAt = nil }), false, nil},
		{"wrong issuer", spoil(func(c *jwtClaims) { c.Issuer = "evil" }), false, nil},
		{"no issuer", spoil(func(c *jwtClaims) { c.Issuer = "" }), false, nil},
		{"wrong audience", spoil(func(c *jwtClaims) { c.Audience = jwt.ClaimStrings{"other-api"} }), false, nil},
		{"no audience", spoil(func(c *jwtClaims) { c.Audience = nil }), false, nil},
		{"no session", spoil(func(c *jwtClaims) { c.SessionID = "" }), false, nil},
		{"subject not a user id", spoil(func(c *jwtClaims) { c.Subject = "admin" }), false, nil},
		{"no jti", spoil(func(c *jwtClaims) { c.ID = "" }), false, nil},
		{"no typ", spoil(func(c *jwtClaims) { c.Type = "" }), false, nil},
		{"refresh token used as access token", pair.Refresh.Value, false, nil},
		{"access token used as refresh token", pair.Access.Value, true, nil},
		{"issuer of another deployment", func() string {
			m := f.manager(t, Config{Issuer: "staging-vault"})
			p, err := m.IssuePair(f.user, f.session)
			require.NoError(t, err)
			return p.Access.Value
		}(), false, nil},
		{"audience of another service", func() string {
			m := f.manager(t, Config{Audience: "billing"})
			p, err := m.IssuePair(f.user, f.session)
			require.NoError(t, err)
			return p.Access.Value
		}(), false, nil},
		{"garbage", "not.a.jwt", false, nil},
		{"empty", "", false, nil},
		{"oversized", strings.Repeat("a", maxTokenLength+1), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := f.mgr
			if tc.manager != nil {
				m = tc.manager
			}
			verify := m.VerifyAccess
			if tc.refresh {
				verify = m.VerifyRefresh
			}
			claims, err := verify(tc.token)
			require.Error(t, err)
			t.Log(err) // the cause, for a reader checking each case fails for its own reason
			require.Equal(t, Claims{}, claims)
			require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
			require.Equal(t, "invalid or expired token", domain.ErrorMessage(err), "every refusal looks the same to the caller")
			if tc.token != "" {
				require.NotContains(t, err.Error(), tc.token, "errors never quote the token")
			}
		})
	}

	t.Run("the untampered tokens still verify", func(t *testing.T) {
		_, err := f.mgr.VerifyAccess(pair.Access.Value)
		require.NoError(t, err)
		_, err = f.mgr.VerifyRefresh(pair.Refresh.Value)
		require.NoError(t, err)
		_, err = f.mgr.VerifyAccess(f.signActive(t, f.claims()))
		require.NoError(t, err, "the hand-built claims are valid before spoiling")
		_, err = later(15*time.Minute + 4*time.Second).VerifyAccess(pair.Access.Value)
		require.NoError(t, err, "a few seconds of clock skew are tolerated")
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	user, session := domain.NewID(), domain.NewID()

	before, err := NewKeyring(secretA)
	require.NoError(t, err)
	oldMgr, err := New(before, Config{Now: clock})
	require.NoError(t, err)
	oldPair, err := oldMgr.IssuePair(user, session)
	require.NoError(t, err)

	// Rotate: the new key signs, the old one still verifies.
	rotated, err := KeyringFromEnv(func(k string) string {
		return map[string]string{EnvSecretKey: secretB, EnvSecretKeyPrevious: " " + secretA + " "}[k]
	})
	require.NoError(t, err)
	require.NotEqual(t, before.ActiveKeyID(), rotated.ActiveKeyID())
	mgr, err := New(rotated, Config{Now: clock})
	require.NoError(t, err)
	_, err = mgr.VerifyAccess(oldPair.Access.Value)
	require.NoError(t, err, "tokens signed before the rotation keep working")
	newPair, err := mgr.IssuePair(user, session)
	require.NoError(t, err)
	_, err = mgr.VerifyRefresh(newPair.Refresh.Value)
	require.NoError(t, err)
	_, err = oldMgr.VerifyAccess(newPair.Access.Value)
	require.Error(t, err, "a server without the new key refuses its tokens")

	// Retire the old key: its tokens stop working.
	retired, err := NewKeyring(secretB)
	require.NoError(t, err)
	mgr, err = New(retired, Config{Now: clock})
	require.NoError(t, err)
	_, err = mgr.VerifyAccess(oldPair.Access.Value)
	require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
	_, err = mgr.VerifyAccess(newPair.Access.Value)
	require.NoError(t, err)
}

func TestKeyringRefusesWeakSecrets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		env      map[string]string
		wantName string
	}{
		{"missing", map[string]string{}, "SECRET_KEY is not set"},
		{"31 bytes", map[string]string{EnvSecretKey: secretA[:31]}, "SECRET_KEY must be at least 32 bytes"},
		{"repetitive", map[string]string{EnvSecretKey: strings.Repeat("ab", 32)}, "SECRET_KEY is too repetitive"},
		{"weak previous key", map[string]string{EnvSecretKey: secretA, EnvSecretKeyPrevious: secretB + ",short"}, "SECRET_KEY_PREVIOUS entry 2 must be at least 32 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KeyringFromEnv(func(k string) string { return tc.env[k] })
			require.ErrorContains(t, err, tc.wantName)
			for _, v := range tc.env {
				if v != "" {
					require.NotContains(t, err.Error(), v, "the error never quotes the secret")
				}
			}
		})
	}
	k, err := KeyringFromEnv(func(k string) string { return map[string]string{EnvSecretKey: secretA}[k] })
	require.NoError(t, err)
	require.Len(t, k.keys, 1)
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	keys, err := NewKeyring(secretA)
	require.NoError(t, err)
	for name, cfg := range map[string]Config{
		"negative access TTL":         {AccessTTL: -time.Minute},
		"refresh shorter than access": {AccessTTL: time.Hour, RefreshTTL: time.Minute},
		"leeway larger than a minute": {Leeway: time.Hour},
		"negative leeway":             {Leeway: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(keys, cfg)
			require.Error(t, err)
		})
	}
	_, err = New(nil, Config{})
	require.Error(t, err)
}
