package domain_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestPatternContains(t *testing.T) {
	t.Parallel()
	cases := []struct {
		outer, inner string
		want         bool
	}{
		{"**", "secrets/a/b", true},
		{"**", "**", true},
		{"secrets/**", "secrets/a/b", true},
		{"secrets/**", "secrets", true},
		{"secrets/**", "secrets/**", true},
		{"secrets/**", "**", false},
		{"secrets/**", "files/x", false},
		{"secrets/a/**", "secrets/a", true},
		{"secrets/*", "secrets/a", true},
		{"secrets/*", "secrets/**", false},
		{"secrets/*", "secrets/a/b", false},
		{"secrets/a*", "secrets/ab*", true},
		{"secrets/ab*", "secrets/a*", false},
		{"secrets/*a*", "secrets/*a", true},
		{"secrets/*a", "secrets/*a*", false},
		{"secrets/*/x", "secrets/a/x", true},
		{"secrets/*/x", "secrets/**/x", false},
		{"secrets/**/x", "secrets/a/b/x", true},
		{"secrets/**/x", "secrets/*/x", true},
		{"secrets/**/x", "secrets/**/x", true},
		{"secrets/**/x", "secrets/x", true},
		{"secrets/**/x", "secrets/x/y", false},
		{"*/**", "secrets/a", true},
		{"**/x", "secrets/x", true},
		{"users/*", "roles/ops", false},
		{"roles/*", "roles/ops", true},
		{"roles/o*", "roles/*", false},
		{"secrets/a", "secrets/A", false},
		{"secrets/*", "secrets/é", true},
		{"secrets/é*", "secrets/éa", false}, // conservative: non-ASCII
		{"secrets/é", "secrets/é", true},
	}
	for _, tc := range cases {
		t.Run(tc.outer+" ⊇ "+tc.inner, func(t *testing.T) {
			require.Equal(t, tc.want, domain.PatternContains(tc.outer, tc.inner))
		})
	}
}

func TestPatternsOverlap(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want bool
	}{
		{"**", "secrets/a", true},
		{"secrets/a", "secrets/b", false},
		{"secrets/a", "secrets/A", true}, // letter case never separates
		{"secrets/team-b/**", "secrets/TEAM-B/y", true},
		{"secrets/root/*", "secrets/app/*", false},
		{"secrets/root/*", "secrets/*/x", true},
		{"secrets/root/*", "secrets/**", true},
		{"secrets/root/*", "secrets/root", false},
		{"secrets/root/**", "secrets/root", true},
		{"secrets/a*", "secrets/*b", true},
		{"secrets/a*", "secrets/b*", false},
		{"secrets/*x*", "secrets/*y*", true},
		{"secrets/**/a", "secrets/**/b", false},
		{"secrets/**/a", "secrets/b/**", true},
		{"users/*", "roles/*", false},
		{"*/x", "roles/*", true},
		{"secrets/é", "secrets/e", true}, // non-ASCII: assumed to meet
	}
	for _, tc := range cases {
		t.Run(tc.a+" ∩ "+tc.b, func(t *testing.T) {
			require.Equal(t, tc.want, domain.PatternsOverlap(tc.a, tc.b))
			require.Equal(t, tc.want, domain.PatternsOverlap(tc.b, tc.a), "symmetric")
		})
	}
}

// TestPatternComparisonsAreSound checks both comparisons against the
// matcher itself over every pattern and resource of a small universe:
// whenever PatternContains says yes, every resource the inner pattern
// matches is matched by the outer one; whenever PatternsOverlap says no, no
// resource matches both.
func TestPatternComparisonsAreSound(t *testing.T) {
	t.Parallel()
	segments := []string{"a", "ab", "*", "a*", "*b", "**"}
	var patterns []string
	var build func(prefix []string, depth int)
	build = func(prefix []string, depth int) {
		if len(prefix) > 0 {
			patterns = append(patterns, strings.Join(prefix, "/"))
		}
		if depth == 0 {
			return
		}
		for _, s := range segments {
			build(append(append([]string(nil), prefix...), s), depth-1)
		}
	}
	build(nil, 3)
	names := []string{"a", "b", "ab", "A"}
	var resources [][]string
	var grow func(prefix []string, depth int)
	grow = func(prefix []string, depth int) {
		resources = append(resources, append([]string(nil), prefix...))
		if depth == 0 {
			return
		}
		for _, n := range names {
			grow(append(prefix, n), depth-1)
		}
	}
	grow(nil, 4)
	matches := make(map[string][]bool, len(patterns))
	folded := make(map[string][]bool, len(patterns))
	for _, p := range patterns {
		m, f := make([]bool, len(resources)), make([]bool, len(resources))
		for i, r := range resources {
			low := make([]string, len(r))
			for k, s := range r {
				low[k] = strings.ToLower(s)
			}
			m[i] = len(r) > 0 && domain.MatchResource(p, r)
			f[i] = len(r) > 0 && domain.MatchResource(strings.ToLower(p), low)
		}
		matches[p], folded[p] = m, f
	}
	contained, disjoint := 0, 0
	for _, outer := range patterns {
		for _, inner := range patterns {
			if domain.PatternContains(outer, inner) {
				contained++
				for i, r := range resources {
					if matches[inner][i] && !matches[outer][i] {
						t.Fatalf("PatternContains(%q, %q) but %q matches only the inner one", outer, inner, strings.Join(r, "/"))
					}
				}
			}
			if !domain.PatternsOverlap(outer, inner) {
				disjoint++
				for i, r := range resources {
					if folded[outer][i] && folded[inner][i] {
						t.Fatalf("PatternsOverlap(%q, %q) is false but %q matches both", outer, inner, strings.Join(r, "/"))
					}
				}
			}
		}
	}
	require.Positive(t, contained)
	require.Positive(t, disjoint)
}

func allowSt(actions []string, resources ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectAllow, Actions: actions, Resources: resources}
}

func denySt(actions []string, resources ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectDeny, Actions: actions, Resources: resources}
}

func perm(action, resource string) domain.Permission {
	return domain.Permission{Action: action, Resource: resource}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	policy := func(st ...domain.Statement) []domain.PolicyView {
		return []domain.PolicyView{{ID: domain.NewID(), Name: "p", Statements: st}}
	}
	revealAll := allowSt([]string{"reveal"}, "secrets/**")
	noRoot := denySt([]string{"reveal"}, "secrets/root/*")
	cases := []struct {
		name     string
		policies []domain.PolicyView
		grant    domain.Permission
		want     bool
	}{
		{"held exactly", policy(revealAll), perm("reveal", "secrets/**"), true},
		{"narrower than held", policy(revealAll), perm("reveal", "secrets/team/*"), true},
		{"other action", policy(revealAll), perm("read", "secrets/team/*"), false},
		{"wider than held", policy(allowSt([]string{"reveal"}, "secrets/team/**")), perm("reveal", "secrets/**"), false},
		{"nothing held", nil, perm("read", "secrets/x"), false},
		{"a deny inside the grant", policy(revealAll, noRoot), perm("reveal", "secrets/**"), false},
		{"a deny beside the grant", policy(revealAll, noRoot), perm("reveal", "secrets/app/*"), true},
		{"a deny that may meet the grant", policy(revealAll, noRoot), perm("reveal", "secrets/*/x"), false},
		{"a deny in another case", policy(revealAll, noRoot), perm("reveal", "secrets/ROOT/x"), false},
		{"a deny on another action", policy(revealAll, denySt([]string{"read"}, "**")), perm("reveal", "secrets/a"), true},
		{"a deny of every action", policy(allowSt([]string{"*"}, "**"), denySt([]string{"*"}, "secrets/prod/**")), perm("read", "secrets/prod/x"), false},
		{"star covers admin", policy(allowSt([]string{"*"}, "**")), perm("admin", "roles/ops"), true},
		{"star does not cover escalate", policy(allowSt([]string{"*"}, "**")), perm("escalate", "roles/ops"), false},
		{"escalate named", policy(allowSt([]string{"*", "escalate"}, "**")), perm("escalate", "roles/ops"), true},
		{"escalate denied by name", policy(allowSt([]string{"*", "escalate"}, "**"), denySt([]string{"escalate"}, "roles/admin")), perm("escalate", "roles/admin"), false},
		{"a star deny leaves escalate", policy(allowSt([]string{"escalate"}, "**"), denySt([]string{"*"}, "roles/**")), perm("escalate", "roles/ops"), true},
		{"two allows that only together span it", []domain.PolicyView{
			{Name: "a", Statements: []domain.Statement{allowSt([]string{"read"}, "secrets/a/*")}},
			{Name: "b", Statements: []domain.Statement{allowSt([]string{"read"}, "secrets/b/*")}},
		}, perm("read", "secrets/*/x"), false},
		{"a deny in another policy", []domain.PolicyView{
			{Name: "a", Statements: []domain.Statement{revealAll}},
			{Name: "b", Statements: []domain.Statement{noRoot}},
		}, perm("reveal", "secrets/root/key"), false},
		{"the built-in admin policy", []domain.PolicyView{domain.AdminPolicy()}, perm("escalate", "users/anyone"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, domain.Covers(tc.policies, tc.grant))
		})
	}
}

func TestFirstUncoveredNamesTheFirstMissingPermission(t *testing.T) {
	t.Parallel()
	held := []domain.PolicyView{{Name: "p", Statements: []domain.Statement{allowSt([]string{"read", "list"}, "secrets/**")}}}
	missing, ok := domain.FirstUncovered(held, []domain.Permission{perm("read", "secrets/a"), perm("reveal", "secrets/**"), perm("destroy", "secrets/b")}, nil)
	require.False(t, ok)
	require.Equal(t, perm("reveal", "secrets/**"), missing)
	require.Equal(t, "reveal on secrets/**", missing.String())
	_, ok = domain.FirstUncovered(held, []domain.Permission{perm("list", "secrets/x/*")}, nil)
	require.True(t, ok)
	_, ok = domain.FirstUncovered(nil, nil, nil)
	require.True(t, ok, "an empty grant needs nothing")

	// An actor's own deny is no obstacle where the receiver is denied too.
	shared := []domain.PolicyView{{Name: "p", Statements: []domain.Statement{
		allowSt([]string{"reveal"}, "secrets/**"), denySt([]string{"reveal"}, "secrets/root/*"),
	}}}
	grant := []domain.Permission{perm("reveal", "secrets/**")}
	_, ok = domain.FirstUncovered(shared, grant, nil)
	require.False(t, ok)
	_, ok = domain.FirstUncovered(shared, grant, []domain.Permission{perm("reveal", "secrets/root/**")})
	require.True(t, ok)
	_, ok = domain.FirstUncovered(shared, grant, []domain.Permission{perm("read", "secrets/root/**")})
	require.False(t, ok, "a deny of another action does not bind the receiver there")
	_, ok = domain.FirstUncovered(shared, grant, []domain.Permission{perm("reveal", "secrets/root/a")})
	require.False(t, ok, "a narrower deny leaves part of the actor's deny usable by the receiver")
}

func TestGrantOf(t *testing.T) {
	t.Parallel()
	everyAction := func(resource string, except ...string) []domain.Permission {
		var out []domain.Permission
		for _, a := range []string{"read", "list", "write", "rotate", "delete", "reveal", "destroy", "admin"} {
			if !strings.Contains(strings.Join(except, ","), a) {
				out = append(out, perm(a, resource))
			}
		}
		return out
	}
	cases := []struct {
		name          string
		before, after []domain.Statement
		want          []domain.Permission
	}{
		{"a new allow", nil, []domain.Statement{allowSt([]string{"read"}, "secrets/**")}, []domain.Permission{perm("read", "secrets/**")}},
		{"an allow narrowed", []domain.Statement{allowSt([]string{"read"}, "secrets/**")}, []domain.Statement{allowSt([]string{"read"}, "secrets/a/*")}, nil},
		{"an allow widened", []domain.Statement{allowSt([]string{"read"}, "secrets/a/*")}, []domain.Statement{allowSt([]string{"read"}, "secrets/**")}, []domain.Permission{perm("read", "secrets/**")}},
		{"an action added", []domain.Statement{allowSt([]string{"read"}, "secrets/**")}, []domain.Statement{allowSt([]string{"read", "reveal"}, "secrets/**")}, []domain.Permission{perm("reveal", "secrets/**")}},
		{"star narrowed to one action", []domain.Statement{allowSt([]string{"*"}, "secrets/**")}, []domain.Statement{allowSt([]string{"read"}, "secrets/**")}, nil},
		{"star granted", nil, []domain.Statement{allowSt([]string{"*"}, "secrets/x")}, everyAction("secrets/x")},
		{"a deny added", nil, []domain.Statement{denySt([]string{"read"}, "**")}, nil},
		{"a deny lifted", []domain.Statement{denySt([]string{"reveal"}, "secrets/root/*")}, nil, []domain.Permission{perm("reveal", "secrets/root/*")}},
		{"a deny widened", []domain.Statement{denySt([]string{"reveal"}, "secrets/root/*")}, []domain.Statement{denySt([]string{"reveal"}, "secrets/root/**")}, nil},
		{"a deny narrowed to one action", []domain.Statement{denySt([]string{"*"}, "secrets/x")}, []domain.Statement{denySt([]string{"read"}, "secrets/x")}, everyAction("secrets/x", "read")},
		{"unchanged", []domain.Statement{allowSt([]string{"read"}, "secrets/a"), denySt([]string{"read"}, "secrets/a/b")}, []domain.Statement{allowSt([]string{"read"}, "secrets/a"), denySt([]string{"read"}, "secrets/a/b")}, nil},
		{"escalate granted", nil, []domain.Statement{allowSt([]string{"escalate"}, "roles/*")}, []domain.Permission{perm("escalate", "roles/*")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, domain.GrantOf(tc.before, tc.after))
		})
	}
}

// TestGrantOfBoundsWhatHoldersGain is the rule's promise, checked over a
// small universe: when the actor covers GrantOf(before, after), nothing a
// holder may do after the change is beyond the actor, whatever else the
// holder holds.
func TestGrantOfBoundsWhatHoldersGain(t *testing.T) {
	t.Parallel()
	actor := []domain.PolicyView{{Name: "actor", Statements: []domain.Statement{
		allowSt([]string{"read", "reveal"}, "secrets/app/**"), denySt([]string{"reveal"}, "secrets/app/root"),
	}}}
	other := domain.PolicyView{Name: "other", Statements: []domain.Statement{allowSt([]string{"reveal"}, "secrets/**")}}
	candidates := [][]domain.Statement{
		nil,
		{denySt([]string{"reveal"}, "secrets/**")},
		{denySt([]string{"reveal"}, "secrets/app/*")},
		{allowSt([]string{"read"}, "secrets/app/x")},
		{allowSt([]string{"reveal"}, "secrets/app/*")},
		{allowSt([]string{"reveal"}, "secrets/app/*"), denySt([]string{"reveal"}, "secrets/app/root")},
		{denySt([]string{"*"}, "secrets/other/**")},
	}
	resources := []string{"secrets/app/x", "secrets/app/root", "secrets/other/y", "secrets/z"}
	allowed := func(policies []domain.PolicyView, action, resource string) bool {
		return domain.Decide(domain.AccessRequest{Action: action, Resource: resource}, policies).Allowed
	}
	for _, before := range candidates {
		for _, after := range candidates {
			if _, ok := domain.FirstUncovered(actor, domain.GrantOf(before, after), domain.Permissions(after, domain.EffectDeny)); !ok {
				continue
			}
			holderBefore := []domain.PolicyView{{Name: "changed", Statements: before}, other}
			holderAfter := []domain.PolicyView{{Name: "changed", Statements: after}, other}
			for _, r := range resources {
				for _, a := range []string{"read", "reveal"} {
					gained := allowed(holderAfter, a, r) && !allowed(holderBefore, a, r)
					require.False(t, gained && !allowed(actor, a, r),
						"%v → %v is covered, yet a holder gains %s on %s that the actor lacks", before, after, a, r)
				}
			}
		}
	}
}

// BenchmarkFirstUncoveredMaximalPolicy is about the worst a policy editor
// can ask of one check: granting the largest policy (100 statements of 50
// patterns, every action) as an actor that allows everything but holds as
// many denies, each of which must be shown disjoint from each granted
// pattern. The comparison budget keeps it bounded (it then refuses).
func BenchmarkFirstUncoveredMaximalPolicy(b *testing.B) {
	var held, wanted []domain.Statement
	held = append(held, allowSt([]string{"*"}, "**"))
	for i := range 100 {
		var deny, grant []string
		for j := range 50 {
			deny = append(deny, fmt.Sprintf("secrets/*/**/deny-%d-%d*", i, j))
			grant = append(grant, fmt.Sprintf("secrets/app-%d/**/w*-%d", i, j))
		}
		held = append(held, denySt([]string{"*"}, deny...))
		wanted = append(wanted, allowSt([]string{"*"}, grant...))
	}
	actor := []domain.PolicyView{{Name: "actor", Statements: held[:100]}}
	grant := domain.GrantOf(nil, wanted)
	b.ResetTimer()
	for b.Loop() {
		domain.FirstUncovered(actor, grant, nil)
	}
}

// BenchmarkFirstUncoveredTypical is a role change an operator makes every
// day: a few policies granted by an actor with a handful of statements.
func BenchmarkFirstUncoveredTypical(b *testing.B) {
	actor := []domain.PolicyView{{Name: "lead", Statements: []domain.Statement{
		allowSt([]string{"admin"}, "roles/team-*", "policies/team-*"),
		allowSt([]string{"read", "list", "reveal"}, "secrets/team/**"),
		denySt([]string{"reveal"}, "secrets/team/root/*"),
	}}}
	grant := domain.GrantOf(nil, []domain.Statement{
		allowSt([]string{"read", "list"}, "secrets/team/app/**", "secrets/team/web/*"),
		allowSt([]string{"reveal"}, "secrets/team/app/*"),
	})
	b.ResetTimer()
	for b.Loop() {
		if _, ok := domain.FirstUncovered(actor, grant, nil); !ok {
			b.Fatal("should be covered")
		}
	}
}
