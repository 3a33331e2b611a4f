package queries

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/securevault/vault/domain"
)

// storableText is what a PostgreSQL text parameter can hold.
func storableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// FuzzAuditQuery feeds the audit log's filters (user, action, resource
// type and id, outcome, ip, since, until) to the parser the HTTP API and
// vaultctl share. An accepted query holds only text PostgreSQL can take,
// times it can store, and a cursor digest that is stable for the filter.
func FuzzAuditQuery(f *testing.F) {
	f.Add("alice", "secret.reveal", "secrets", "prod/db", "denied", "10.0.0.0/8", "2026-01-02T15:04:05Z", "")
	f.Add("\xff", "", "", "\xff", "", "", "", "")     // invalid UTF-8 reached PostgreSQL: 500
	f.Add("", "", "", "\xed\xa0\x80", "", "", "", "") // a UTF-16 surrogate, also invalid
	f.Add("", "", "", "a\x00b", "", "", "", "")       // NUL
	f.Add(domain.AdminPolicyID, "A.b-c_d", "users", "", "", "::1", "", "2026-01-02T15:04:05.999999999+14:00")
	f.Add("\u212Aelvin", "", "", "", "allowed", "fe80::1%eth0", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
	f.Add("system", "", "", "", "failed", "1.2.3.4/33", "2026-13-01T00:00:00Z", "")
	f.Fuzz(func(t *testing.T, user, action, resType, resID, outcome, ip, since, until string) {
		in := AuditInput{User: user, Action: action, ResourceType: resType, ResourceID: resID, Outcome: outcome, IP: ip, Since: since, Until: until}
		q, err := parseAuditInput(in)
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.EINVALID {
				t.Fatalf("parseAuditInput(%+v): code %q (%v)", in, code, err)
			}
			return
		}
		f := q.filter
		for _, s := range []string{f.UserID, f.Username, f.Action, f.ResourceType, f.ResourceID, f.Outcome} {
			if !storableText(s) {
				t.Fatalf("parseAuditInput(%+v) passes %q to PostgreSQL", in, s)
			}
		}
		for _, tm := range []time.Time{f.Since, f.Until} {
			if !tm.IsZero() && (tm.Year() < 1 || tm.Year() > 9999) {
				t.Fatalf("parseAuditInput(%+v) passes time %v", in, tm)
			}
		}
		again, err := parseAuditInput(in)
		if err != nil || again.digest != q.digest {
			t.Fatalf("parseAuditInput(%+v) is not deterministic", in)
		}
	})
}
