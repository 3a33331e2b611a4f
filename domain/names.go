package domain

import (
	"strings"
)

// One grammar for every name the vault stores or matches: secret and file
// names, usernames, role and policy names, and the segments of resource
// paths and patterns. A segment is one or more of [a-z0-9._-], never "."
// or "..". Names are case-insensitive and their canonical form is lowercase
// ASCII: input is folded with FoldName before it is checked, stored,
// reserved or matched, so `Prod/x` and `prod/x` are one name and a deny on
// `secrets/team-b/**` also covers `TEAM-B/y`. Folding touches ASCII only:
// strings.ToLower would map the Kelvin sign (U+212A) to 'k' and make two
// spellings of one name.

// IdentityNameMaxLength bounds usernames and role and policy names.
const IdentityNameMaxLength = 64

// FoldName lowercases the ASCII letters of s and leaves every other byte
// as it is (so a non-ASCII byte still fails the grammar).
func FoldName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isNameByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
}

// nameSegmentProblem explains why seg (already folded) is not a name
// segment, or returns "". wildcards admits '*' as a character.
func nameSegmentProblem(seg string, wildcards bool) string {
	switch seg {
	case "":
		return "has an empty segment (leading, trailing or double '/')"
	case ".", "..":
		return "has a '.' or '..' segment"
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case isNameByte(c), wildcards && c == '*':
		case c == '%':
			return "contains '%': percent-escapes are not decoded, write the character itself"
		case wildcards:
			return "may contain only letters, digits, '.', '_', '-' and the wildcards '*' and '**'"
		default:
			return "may contain only letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

// ValidateSecretName checks a hierarchical name such as prod/db/password:
// 1 to 256 bytes of '/'-separated name segments. It accepts capitals,
// because names recorded before names were folded keep their case in the
// log; NormalizeSecretName gives the canonical form every new name takes.
func ValidateSecretName(name string) error {
	if name == "" || len(name) > SecretNameMaxLength {
		return Errorf(EINVALID, "secret name must be 1 to %d characters long", SecretNameMaxLength)
	}
	for seg := range strings.SplitSeq(FoldName(name), "/") {
		if p := nameSegmentProblem(seg, false); p != "" {
			return Errorf(EINVALID, "secret name %s", p)
		}
	}
	return nil
}

// NormalizeSecretName checks a secret (or file) name and returns its
// canonical, lowercase form.
func NormalizeSecretName(name string) (string, error) {
	if err := ValidateSecretName(name); err != nil {
		return "", err
	}
	return FoldName(name), nil
}

// NormalizeSecretNamePrefix checks the ?prefix= filter of secret listings
// and folds it: what a valid name can start with, so "prod/" and "prod/d"
// pass and "prod//", "../" or a NUL byte do not. Every segment but the last
// must be whole; the last may be empty (a trailing '/') or partial.
func NormalizeSecretNamePrefix(prefix string) (string, error) {
	p := FoldName(prefix)
	if len(p) > SecretNameMaxLength {
		return "", Errorf(EINVALID, "prefix must be at most %d characters long", SecretNameMaxLength)
	}
	if p == "" {
		return "", nil
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		if last && (seg == "" || seg == "." || seg == "..") {
			seg = "x" + seg // a partial last segment: only its characters count
		}
		if problem := nameSegmentProblem(seg, false); problem != "" {
			return "", Errorf(EINVALID, "prefix %s", problem)
		}
	}
	return p, nil
}

// NormalizeIdentityNamePrefix checks the ?name= filter of the user, role
// and policy listings: up to 64 name characters, folded. It never reaches
// the database as anything but a prefix of a valid name.
func NormalizeIdentityNamePrefix(prefix string) (string, error) {
	p := FoldName(prefix)
	if len(p) > IdentityNameMaxLength {
		return "", Errorf(EINVALID, "name filter must be at most %d characters long", IdentityNameMaxLength)
	}
	for i := 0; i < len(p); i++ {
		if !isNameByte(p[i]) {
			return "", Errorf(EINVALID, "name filter may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return p, nil
}

// ValidateIdentityName checks a stored username, role or policy name: 1 to
// 64 lowercase name characters. Cursors carry such names.
func ValidateIdentityName(name string) error {
	if name == "" || len(name) > IdentityNameMaxLength || !validNameChars(name) {
		return Errorf(EINVALID, "name must be 1 to %d lowercase letters, digits, '.', '_' or '-'", IdentityNameMaxLength)
	}
	return nil
}
