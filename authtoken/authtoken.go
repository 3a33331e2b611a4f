// Package authtoken issues and verifies the vault's JWT access and refresh
// tokens: HS256 only, keys with ids so the signing key can rotate without
// logging everyone out, and every registered claim checked.
package authtoken

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/securevault/vault/domain"
)

// Token types, carried in the typ claim so one kind can never stand in for
// the other.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Environment variables the keyring reads.
//
//nolint:gosec // G101: names of environment variables, not their values
const (
	EnvSecretKey         = "SECRET_KEY"
	EnvSecretKeyPrevious = "SECRET_KEY_PREVIOUS"
)

// MinSecretLength is the shortest SECRET_KEY accepted, in bytes: HS256
// needs a key at least as long as its 256-bit output to be at full
// strength.
const MinSecretLength = 32

const (
	algorithm      = "HS256"
	maxTokenLength = 4096
)

// Keyring holds the active signing key and the previous ones that still
// verify. Key ids are derived from the keys, so operators rotate by moving
// SECRET_KEY into SECRET_KEY_PREVIOUS and setting a new SECRET_KEY.
type Keyring struct {
	activeID string
	keys     map[string][]byte
}

// NewKeyring derives signing keys from secrets. Secrets shorter than
// MinSecretLength bytes, or with too little variety to be random, are
// refused. The error names the offending setting, never its value.
func NewKeyring(active string, previous ...string) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}}
	id, key, err := deriveKey(EnvSecretKey, active)
	if err != nil {
		return nil, err
	}
	k.activeID = id
	k.keys[id] = key
	for i, p := range previous {
		id, key, err := deriveKey(fmt.Sprintf("%s entry %d", EnvSecretKeyPrevious, i+1), p)
		if err != nil {
			return nil, err
		}
		k.keys[id] = key
	}
	return k, nil
}

// KeyringFromEnv reads SECRET_KEY and the comma-separated
// SECRET_KEY_PREVIOUS through getenv (os.Getenv in production).
func KeyringFromEnv(getenv func(string) string) (*Keyring, error) {
	var previous []string
	if v := strings.TrimSpace(getenv(EnvSecretKeyPrevious)); v != "" {
		for _, p := range strings.Split(v, ",") {
			previous = append(previous, strings.TrimSpace(p))
		}
	}
	return NewKeyring(getenv(EnvSecretKey), previous...)
}

// deriveKey separates the JWT key from SECRET_KEY with HKDF, so the same
// secret can key other purposes without one use weakening another, and
// names the key by a hash of the derived key, which reveals nothing about
// the secret.
func deriveKey(name, secret string) (string, []byte, error) {
	if secret == "" {
		return "", nil, fmt.Errorf("%s is not set", name)
	}
	if len(secret) < MinSecretLength {
		return "", nil, fmt.Errorf("%s must be at least %d bytes long", name, MinSecretLength)
	}
	distinct := map[byte]bool{}
	for i := 0; i < len(secret); i++ {
		distinct[secret[i]] = true
	}
	if len(distinct) < 10 {
		return "", nil, fmt.Errorf("%s is too repetitive to be a random key", name)
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "securevault jwt hs256 v1", 32)
	if err != nil {
		return "", nil, fmt.Errorf("derive key from %s: %w", name, err)
	}
	sum := sha256.Sum256(append([]byte("securevault jwt kid v1:"), key...))
	return hex.EncodeToString(sum[:8]), key, nil
}

// ActiveKeyID is the id new tokens are signed with.
func (k *Keyring) ActiveKeyID() string { return k.activeID }

// Config tunes a Manager; zero values take the defaults.
type Config struct {
	Issuer     string        // default "securevault"
	Audience   string        // default "securevault-api"
	AccessTTL  time.Duration // default 15 minutes
	RefreshTTL time.Duration // default 7 days
	// Leeway absorbs clock skew between servers on exp, nbf and iat.
	Leeway time.Duration // default 5 seconds
	Now    func() time.Time
}

// Manager issues and verifies tokens. It is safe for concurrent use.
type Manager struct {
	keys *Keyring
	cfg  Config
	// parser is built once: its options never change, and a jwt.Parser
	// with a validator set is only read while it parses, so every
	// request shares it.
	parser *jwt.Parser
	// verified remembers tokens that passed, so each is parsed once.
	verified *verifiedCache
}

// New returns a Manager signing with keys.
func New(keys *Keyring, cfg Config) (*Manager, error) {
	if keys == nil {
		return nil, errors.New("authtoken: no keyring")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "securevault"
	}
	if cfg.Audience == "" {
		cfg.Audience = "securevault-api"
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccessTTL < 0 || cfg.RefreshTTL < cfg.AccessTTL {
		return nil, errors.New("authtoken: access TTL must be positive and no longer than the refresh TTL")
	}
	if cfg.Leeway < 0 || cfg.Leeway > time.Minute {
		return nil, errors.New("authtoken: leeway must be between 0 and 1 minute")
	}
	return &Manager{keys: keys, cfg: cfg, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{algorithm}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	), verified: newVerifiedCache()}, nil
}

// AccessTTL is how long access tokens live (the login answer's expires_in).
func (m *Manager) AccessTTL() time.Duration { return m.cfg.AccessTTL }

// Token is an issued token. Value is a bearer credential: it must never be
// logged, so Token logs and prints as its id only.
type Token struct {
	Value     string
	ID        string
	ExpiresAt time.Time
}

// String keeps the credential out of fmt output.
func (t Token) String() string { return "token " + t.ID }

// GoString keeps the credential out of %#v output.
func (t Token) GoString() string { return "authtoken.Token{ID: " + strconv.Quote(t.ID) + "}" }

// LogValue keeps the credential out of slog output.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("jti", t.ID), slog.Time("expires_at", t.ExpiresAt))
}

// Pair is what a login or a refresh hands out.
type Pair struct {
	Access  Token
	Refresh Token
}

// Claims are a verified token's claims.
type Claims struct {
	UserID    string
	SessionID string
	TokenID   string
	Type      string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Type      string `json:"typ"`
}

// IssuePair signs a fresh access and refresh token for a session.
func (m *Manager) IssuePair(userID, sessionID string) (Pair, error) {
	access, err := m.issue(userID, sessionID, TypeAccess, m.cfg.AccessTTL)
	if err != nil {
		return Pair{}, err
	}
	refresh, err := m.issue(userID, sessionID, TypeRefresh, m.cfg.RefreshTTL)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: access, Refresh: refresh}, nil
}

func (m *Manager) issue(userID, sessionID, typ string, ttl time.Duration) (Token, error) {
	if err := domain.ValidateID("user id", userID); err != nil {
		return Token{}, err
	}
	if err := domain.ValidateID("session id", sessionID); err != nil {
		return Token{}, err
	}
	now := m.cfg.Now().UTC().Truncate(time.Second)
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.cfg.Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{m.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        domain.NewID(),
		},
		SessionID: sessionID,
		Type:      typ,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = m.keys.activeID
	signed, err := t.SignedString(m.keys.keys[m.keys.activeID])
	if err != nil {
		return Token{}, domain.WrapError(domain.EINTERNAL, "cannot sign token", err)
	}
	return Token{Value: signed, ID: claims.ID, ExpiresAt: claims.ExpiresAt.UTC()}, nil
}

// VerifyAccess checks an access token. Whether its session is still active
// (logout, reuse, deleted user) is the caller's next check.
func (m *Manager) VerifyAccess(raw string) (Claims, error) { return m.verify(raw, TypeAccess) }

// VerifyRefresh checks a refresh token; the caller then rotates it on its
// session, which detects reuse.
func (m *Manager) VerifyRefresh(raw string) (Claims, error) { return m.verify(raw, TypeRefresh) }

// invalid is the one answer to every bad token, so the response does not
// tell an attacker which check caught them. The cause is kept for the log;
// jwt's causes never quote the token.
func invalid(cause error) error {
	return domain.WrapError(domain.EUNAUTHORIZED, "invalid or expired token", cause)
}

// verify answers from the verdicts already reached (verifiedCache: the
// time bounds and the type are checked again) and parses in full only a
// token not seen, or whose verdict has lapsed.
func (m *Manager) verify(raw, typ string) (Claims, error) {
	if raw == "" || len(raw) > maxTokenLength {
		return Claims{}, invalid(errors.New("token is empty or too long"))
	}
	digest := sha256.Sum256([]byte(raw))
	now := m.cfg.Now()
	if claims, ok := m.verified.lookup(digest, now, m.cfg.Leeway); ok {
		if claims.Type != typ {
			return Claims{}, wrongType(claims.Type, typ)
		}
		return claims, nil
	}
	entry, err := m.parse(raw, typ)
	if err != nil {
		return Claims{}, err
	}
	m.verified.store(digest, entry, now, m.cfg.Leeway)
	return entry.claims, nil
}

// parse verifies raw in full: signature, every registered claim, the type.
func (m *Manager) parse(raw, typ string) (verifiedEntry, error) {
	var c jwtClaims
	_, err := m.parser.ParseWithClaims(raw, &c, m.keyFor)
	if err != nil {
		return verifiedEntry{}, invalid(err)
	}
	switch {
	case c.Type != typ:
		return verifiedEntry{}, wrongType(c.Type, typ)
	case c.IssuedAt == nil:
		return verifiedEntry{}, invalid(errors.New("token has no iat"))
	case !domain.IsID(c.Subject), !domain.IsID(c.SessionID), !domain.IsID(c.ID):
		return verifiedEntry{}, invalid(errors.New("token sub, sid or jti is not a UUID"))
	}
	return verifiedEntry{
		claims: Claims{
			UserID: c.Subject, SessionID: c.SessionID, TokenID: c.ID, Type: c.Type,
			IssuedAt: c.IssuedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
		},
		// The parser requires nbf (WithNotBeforeRequired), so it is set.
		notBefore: c.NotBefore.UTC(),
	}, nil
}

// wrongType refuses a token of another type than the one required.
func wrongType(got, want string) error {
	return invalid(fmt.Errorf("token type %q where %q is required", truncate(got), want))
}

// keyFor picks the verification key by kid. The method check repeats
// WithValidMethods on purpose: handing an HMAC key to any other algorithm is
// exactly the confusion attack.
func (m *Manager) keyFor(t *jwt.Token) (any, error) {
	if method, ok := t.Method.(*jwt.SigningMethodHMAC); !ok || method.Alg() != algorithm {
		return nil, fmt.Errorf("unexpected signing method %q", truncate(t.Method.Alg()))
	}
	kid, ok := t.Header["kid"].(string)
	if !ok {
		return nil, errors.New("token has no kid")
	}
	key, ok := m.keys.keys[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", truncate(kid))
	}
	return key, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
