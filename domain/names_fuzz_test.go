package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/securevault/vault/domain"
)

// Seeds shared by the name fuzz targets: the observed attacks and their
// relatives (NUL, invalid and overlong UTF-8, surrogates, traversal,
// percent-escapes, the Kelvin sign that strings.ToLower folds to 'k').
var hostileNames = []string{
	"", "prod/db/password", "Prod/DB", "TEAM-B/y", "\x00", "a\x00b", "\xff", "a\xc0\x80b", "\xed\xa0\x80",
	"..", ".", "a/../b", "a/./b", "a//b", "/a", "a/", "a%2fb", "%2e%2e", "a b", "a\tb", "a\nb",
	"\u212Aelvin", "caf\u00e9", "a*b", "**", strings.Repeat("a", 257), strings.Repeat("a/", 130),
}

// onlyNameBytes reports whether s holds nothing but canonical name bytes
// and the extra bytes allowed.
func onlyNameBytes(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' && !strings.ContainsRune(extra, rune(c)) {
			return false
		}
	}
	return true
}

func requireInvalid(t *testing.T, what, in string, err error) {
	t.Helper()
	if code := domain.ErrorCode(err); code != domain.EINVALID {
		t.Fatalf("%s(%q): error code %q (%v), want %q", what, in, code, err, domain.EINVALID)
	}
}

// FuzzNames feeds every name parser: secret names, secret name prefixes,
// usernames, role and policy names and the identity name filter. Whatever
// one accepts is canonical (folded, only grammar bytes, so never NUL or
// invalid UTF-8 on its way to PostgreSQL) and accepted again unchanged.
func FuzzNames(f *testing.F) {
	for _, s := range hostileNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if name, err := domain.NormalizeSecretName(in); err != nil {
			requireInvalid(t, "NormalizeSecretName", in, err)
		} else {
			if !onlyNameBytes(name, "/") || name != domain.FoldName(in) || len(name) > domain.SecretNameMaxLength {
				t.Fatalf("NormalizeSecretName(%q) = %q: not canonical", in, name)
			}
			for seg := range strings.SplitSeq(name, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("NormalizeSecretName(%q) = %q keeps segment %q", in, name, seg)
				}
			}
			if again, err := domain.NormalizeSecretName(name); err != nil || again != name {
				t.Fatalf("NormalizeSecretName is not idempotent on %q: %q, %v", name, again, err)
			}
			if res, err := domain.NormalizeResource(domain.SecretResource(in)); err != nil || res != domain.SecretResource(name) {
				t.Fatalf("resource of valid name %q: %q, %v", in, res, err)
			}
		}
		if prefix, err := domain.NormalizeSecretNamePrefix(in); err != nil {
			requireInvalid(t, "NormalizeSecretNamePrefix", in, err)
		} else if !onlyNameBytes(prefix, "/") || prefix != domain.FoldName(in) || strings.Contains(prefix, "//") || strings.HasPrefix(prefix, "/") {
			t.Fatalf("NormalizeSecretNamePrefix(%q) = %q: not a prefix of any name", in, prefix)
		}
		if prefix, err := domain.NormalizeIdentityNamePrefix(in); err != nil {
			requireInvalid(t, "NormalizeIdentityNamePrefix", in, err)
		} else if !onlyNameBytes(prefix, "") || len(prefix) > domain.IdentityNameMaxLength {
			t.Fatalf("NormalizeIdentityNamePrefix(%q) = %q", in, prefix)
		}
		if name, err := domain.NormalizeUsername(in); err != nil {
			requireInvalid(t, "NormalizeUsername", in, err)
		} else if !onlyNameBytes(name, "") || domain.ValidateIdentityName(name) != nil {
			t.Fatalf("NormalizeUsername(%q) = %q", in, name)
		}
		if name, err := domain.NormalizeName("role", in); err != nil {
			requireInvalid(t, "NormalizeName", in, err)
		} else if !onlyNameBytes(name, "") || domain.ValidateIdentityName(name) != nil {
			t.Fatalf("NormalizeName(%q) = %q", in, name)
		}
	})
}

// FuzzResourcePatterns feeds policy patterns and concrete resources to
// their parsers and to the matcher. Accepted patterns are folded, hold only
// grammar bytes and wildcards, and normalize to themselves; matching never
// panics and ignores the case of ASCII letters.
func FuzzResourcePatterns(f *testing.F) {
	for _, s := range hostileNames {
		f.Add("secrets/"+s, "secrets/"+s)
	}
	for _, p := range []string{"secrets/team-b/**", "**", "*", "users/*", "audit", "secrets/**/db/*-prod", "files/a*b*c", "secrets/%2e%2e/x", "secrets/./x"} {
		f.Add(p, "secrets/TEAM-B/y")
	}
	f.Fuzz(func(t *testing.T, pattern, resource string) {
		pat, err := domain.NormalizeResourcePattern(pattern)
		if err != nil {
			requireInvalid(t, "NormalizeResourcePattern", pattern, err)
		} else {
			if !onlyNameBytes(pat, "/*") || pat != domain.FoldName(pattern) || !utf8.ValidString(pat) {
				t.Fatalf("NormalizeResourcePattern(%q) = %q: not canonical", pattern, pat)
			}
			for seg := range strings.SplitSeq(pat, "/") {
				if seg == "" || seg == "." || seg == ".." || (strings.Contains(seg, "**") && seg != "**") {
					t.Fatalf("NormalizeResourcePattern(%q) = %q keeps segment %q", pattern, pat, seg)
				}
			}
			if again, err := domain.NormalizeResourcePattern(pat); err != nil || again != pat {
				t.Fatalf("NormalizeResourcePattern is not idempotent on %q: %q, %v", pat, again, err)
			}
		}
		res, err := domain.NormalizeResource(resource)
		if err != nil {
			requireInvalid(t, "NormalizeResource", resource, err)
		} else if !onlyNameBytes(res, "/") || res != domain.FoldName(resource) {
			t.Fatalf("NormalizeResource(%q) = %q: not canonical", resource, res)
		}
		segs := strings.Split(resource, "/")
		folded := strings.Split(domain.FoldName(resource), "/")
		if domain.MatchResource(pattern, segs) != domain.MatchResource(domain.FoldName(pattern), folded) {
			t.Fatalf("MatchResource(%q, %q) depends on case", pattern, resource)
		}
	})
}

// FuzzCursors feeds every listing cursor decoder. A cursor a decoder
// accepts decodes to a value of the grammar it encodes, and is exactly the
// cursor the server would issue for that value (one encoding per value).
func FuzzCursors(f *testing.F) {
	for _, c := range []string{"", "AA", "_w", "cHJvZC94", "YWRtaW4", "AGFkbWlu", "cHJvZC8uLi94", "Li4", "%00", "AA==", "cHJvZC94\n",
		domain.EncodeCursor("prod/x"), domain.EncodeCursor("Prod/X"), domain.EncodeCursor("alice"),
		domain.EncodeCursor("secret-" + domain.AdminPolicyID), domain.EncodeCursor("user-" + domain.AdminRoleID), domain.EncodeCursor("secret-x")} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		check := func(what, value string, err error, valid func(string) bool) {
			if err != nil {
				requireInvalid(t, what, c, err)
				return
			}
			if c == "" {
				if value != "" {
					t.Fatalf("%s(\"\") = %q", what, value)
				}
				return
			}
			if !valid(value) || domain.EncodeCursor(value) != c {
				t.Fatalf("%s(%q) = %q: outside the grammar or not the issued encoding", what, c, value)
			}
		}
		name, err := domain.DecodeSecretNameCursor(c)
		check("DecodeSecretNameCursor", name, err, func(v string) bool { return domain.ValidateSecretName(v) == nil })
		ident, err := domain.DecodeIdentityNameCursor(c)
		check("DecodeIdentityNameCursor", ident, err, func(v string) bool { return domain.ValidateIdentityName(v) == nil })
		for _, agg := range []string{domain.SecretAggregate, domain.UserAggregate, domain.RoleAggregate, domain.PolicyAggregate} {
			sid, err := domain.DecodeStreamCursor(agg, c)
			check("DecodeStreamCursor", sid, err, func(v string) bool {
				id, ok := strings.CutPrefix(v, agg+"-")
				return ok && domain.IsID(id)
			})
		}
	})
}
