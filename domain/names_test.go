package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// Patterns used to accept anything but control characters, so "..", "."
// and "%2f" made statements that looked like they covered a path but were
// matched literally, and characters no name can hold made rules that never
// apply. They now follow the name grammar.
func TestResourcePatternWithTraversalOrEscapesIsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, pattern, message string }{
		{"dotdot segment", "secrets/prod/../admin/**", "'.' or '..'"},
		{"dot segment", "secrets/./prod/*", "'.' or '..'"},
		{"trailing dotdot", "secrets/prod/..", "'.' or '..'"},
		{"percent-escaped slash", "secrets/prod%2fdb/*", "percent-escapes"},
		{"percent-escaped dots", "secrets/%2e%2e/**", "percent-escapes"},
		{"empty segment", "secrets//x", "empty segment"},
		{"leading slash", "/secrets/x", "empty segment"},
		{"space", "secrets/prod db", "may contain only"},
		{"backslash", `secrets/prod\db`, "may contain only"},
		{"non-ASCII letter", "secrets/café/*", "may contain only"},
		{"invalid UTF-8", "secrets/a\xffb", "may contain only"},
		{"NUL", "secrets/a\x00b", "may contain only"},
		{"question mark", "secrets/p?d", "may contain only"},
		{"bracket", "secrets/[ab]", "may contain only"},
		{"wildcard not a whole segment", "secrets/a**", "whole segment"},
		{"user name with a dotdot", "users/..", "'.' or '..'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.NormalizeResourcePattern(tc.pattern)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%q accepted", tc.pattern)
			require.Contains(t, domain.ErrorMessage(err), tc.message)
		})
	}
}

func TestResourceWithTraversalIsRefused(t *testing.T) {
	t.Parallel()
	for _, r := range []string{"secrets/prod/../x", "secrets/./x", "secrets/a%2fb", "secrets/a b", "secrets/a\xffb", "users/ali ce", "secrets/*"} {
		_, err := domain.NormalizeResource(r)
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%q accepted", r)
		d := domain.Decide(domain.AccessRequest{Action: "read", Resource: r}, []domain.PolicyView{domain.AdminPolicy()})
		require.False(t, d.Allowed, "%q allowed", r)
	}
}

// Names are case-insensitive with a lowercase canonical form: a deny on
// secrets/team-b/** must stop every spelling of team-b, whether the name
// arrives folded (new secrets), with capitals (a secret recorded before
// names were folded), or the pattern itself was stored with capitals.
func TestDenyOnLowercasePatternStopsUppercaseName(t *testing.T) {
	t.Parallel()
	policy := func(denyPattern string) domain.PolicyView {
		return domain.PolicyView{ID: "p", Name: "p", Statements: []domain.Statement{
			{Effect: domain.EffectAllow, Actions: []string{"*"}, Resources: []string{"secrets/**"}},
			{Effect: domain.EffectDeny, Actions: []string{"*"}, Resources: []string{denyPattern}},
		}}
	}
	cases := []struct {
		name, pattern, resource string
		allowed                 bool
	}{
		{"folded pattern, capital name", "secrets/team-b/**", "secrets/TEAM-B/y", false},
		{"folded pattern, mixed name", "secrets/team-b/**", "secrets/Team-b/Y", false},
		{"folded pattern, folded name", "secrets/team-b/**", "secrets/team-b/y", false},
		// A pattern stored before patterns were folded keeps its capitals.
		{"legacy capital pattern, folded name", "secrets/TEAM-B/**", "secrets/team-b/y", false},
		{"wildcard inside a segment", "secrets/team-*/**", "secrets/TEAM-B/y", false},
		{"another team stays allowed", "secrets/team-b/**", "secrets/TEAM-C/y", true},
		{"files too", "files/team-b/**", "files/TEAM-B/report", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := policy(tc.pattern)
			if tc.pattern == "files/team-b/**" {
				p.Statements[0].Resources = []string{"**"}
			}
			d := domain.Decide(domain.AccessRequest{Action: "reveal", Resource: tc.resource}, []domain.PolicyView{p})
			require.Equal(t, tc.allowed, d.Allowed, d.Reason)
		})
	}
}

func TestSecretNamesFoldToOneCanonicalForm(t *testing.T) {
	t.Parallel()
	sec, err := domain.NewSecret(domain.NewID(), "Prod/DB/Password", "", nil)
	require.NoError(t, err)
	require.Equal(t, "prod/db/password", sec.Name())
	require.Equal(t, domain.SecretNameReservationStream("prod/x"), domain.SecretNameReservationStream("Prod/X"),
		"names differing only in case reserve one stream")

	got, err := domain.NormalizeSecretName("TEAM-B/y")
	require.NoError(t, err)
	require.Equal(t, "team-b/y", got)
	for _, bad := range []string{"a%2fb", "a/../b", "caf\u00e9", "a\x00b", "\u212Aey"} {
		_, err := domain.NormalizeSecretName(bad)
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%q accepted", bad)
	}
}

func TestListPrefixWithNULOrInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string // want "-" means refused
	}{
		{"", ""},
		{"prod/", "prod/"},
		{"Prod/D", "prod/d"},
		{"prod/.", "prod/."},
		{"prod/..", "prod/.."},
		{"\x00", "-"},
		{"\xff", "-"},
		{"\xc0\x80", "-"},
		{"prod//", "-"},
		{"/prod", "-"},
		{"prod/../", "-"},
		{"prod%2f", "-"},
		{"pröd", "-"},
	}
	for _, tc := range cases {
		got, err := domain.NormalizeSecretNamePrefix(tc.in)
		if tc.want == "-" {
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%q accepted", tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
	for _, bad := range []string{"\x00", "\xff", "a b", "a/b", "\u212A"} {
		_, err := domain.NormalizeIdentityNamePrefix(bad)
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%q accepted", bad)
	}
	got, err := domain.NormalizeIdentityNamePrefix("Ali")
	require.NoError(t, err)
	require.Equal(t, "ali", got)
}

// strings.ToLower folds the Kelvin sign (U+212A) to an ASCII 'k', which made
// "\u212Aelvin" a second spelling of the username "kelvin".
func TestUsernameWithKelvinSignIsNotASecondSpelling(t *testing.T) {
	t.Parallel()
	_, err := domain.NormalizeUsername("\u212Aelvin")
	require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	_, err = domain.NormalizeName("role", "\u212Aeepers")
	require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	got, err := domain.NormalizeUsername("Kelvin")
	require.NoError(t, err)
	require.Equal(t, "kelvin", got)
}

func TestCursorDecodersCheckWhatTheyEncode(t *testing.T) {
	t.Parallel()
	nul := domain.EncodeCursor("\x00") // "AA", the observed attack
	require.Equal(t, "AA", nul)
	cases := []struct {
		name   string
		decode func(string) (string, error)
		good   string
		bad    []string
	}{
		{"secret name", domain.DecodeSecretNameCursor, "Prod/x", []string{"\x00", "\xff", "a/../b", "a//b", "a b"}},
		{"identity name", domain.DecodeIdentityNameCursor, "alice", []string{"\x00", "\xff", "Alice", "a/b", ""}},
		{"secret stream", func(c string) (string, error) { return domain.DecodeStreamCursor(domain.SecretAggregate, c) },
			"secret-" + domain.AdminPolicyID, []string{"\x00", "secret-x", "user-" + domain.AdminPolicyID, "secret-" + domain.AdminPolicyID + "\x00"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.decode(domain.EncodeCursor(tc.good))
			require.NoError(t, err)
			require.Equal(t, tc.good, got)
			for _, bad := range append(tc.bad, "\x00x") {
				c := domain.EncodeCursor(bad)
				if bad == "" {
					c = "="
				}
				_, err := tc.decode(c)
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "cursor of %q accepted", bad)
			}
			_, err = tc.decode(domain.EncodeCursor(tc.good) + "\n")
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "a second spelling of a cursor")
		})
	}
}
