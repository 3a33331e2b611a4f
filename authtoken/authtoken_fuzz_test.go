package authtoken

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/securevault/vault/domain"
)

// FuzzVerifyToken feeds bearer tokens, as a client sends them after
// "Bearer ", to both verifiers. They never panic, refuse with one
// EUNAUTHORIZED answer, and accept only a token of their own type whose
// ids are UUIDs, signed with HS256 under a known key.
func FuzzVerifyToken(f *testing.F) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	keys, err := NewKeyring(secretA, secretB)
	if err != nil {
		f.Fatal(err)
	}
	mgr, err := New(keys, Config{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	pair, err := mgr.IssuePair(domain.NewID(), domain.NewID())
	if err != nil {
		f.Fatal(err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	parts := strings.Split(pair.Access.Value, ".")
	for _, s := range []string{
		pair.Access.Value, pair.Refresh.Value, none + "." + parts[1] + ".", parts[0] + "." + parts[1],
		pair.Access.Value + ".x", "a.b.c", "", "\x00", "\xff.\xff.\xff", strings.Repeat("a", 5000),
		parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","sub":"y"}`)) + "." + parts[2],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, typ := range []string{TypeAccess, TypeRefresh} {
			verify := mgr.VerifyAccess
			if typ == TypeRefresh {
				verify = mgr.VerifyRefresh
			}
			c, err := verify(raw)
			if err != nil {
				if domain.ErrorCode(err) != domain.EUNAUTHORIZED || domain.ErrorMessage(err) != "invalid or expired token" {
					t.Fatalf("verify %s %q: %v", typ, raw, err)
				}
				continue
			}
			if c.Type != typ || !domain.IsID(c.UserID) || !domain.IsID(c.SessionID) || !domain.IsID(c.TokenID) {
				t.Fatalf("verify %s %q accepted claims %+v", typ, raw, c)
			}
			header, err := base64.RawURLEncoding.DecodeString(strings.SplitN(raw, ".", 2)[0])
			if err != nil || !strings.Contains(string(header), `"HS256"`) {
				t.Fatalf("verify %s accepted a token whose header is %q", typ, header)
			}
		}
	})
}
