package domain

import (
	"slices"
	"strings"
)

// No escalation. An actor may hand out only what it holds (Kubernetes RBAC's
// rule): a change to a policy's statements, to a role's policies or to a
// user's roles is allowed when the actor's own policies cover the change's
// grant (GrantOf), or when the actor holds ActionEscalate on the resource
// being changed.
//
// The grant of a change from statements before to statements after (all the
// statements a holder gets through the changed policy, role or user) is
//
//   - every allowed permission of after that before did not already allow
//     (a holder had it already, so handing it out again gives nothing), and
//   - every denied permission of before that after no longer denies, as an
//     allow: lifting a deny can give a holder whatever its other policies
//     allow there, which the actor must therefore hold itself.
//
// Deny statements being added take nothing from anyone and need no cover.
// If the actor covers the grant, then after the change no holder can do
// anything the actor cannot: every (action, resource) a holder gains either
// comes from a new allow (covered) or was freed by a lifted deny (covered).
//
// A permission (action, pattern) is covered by a set of policies when, for
// every concrete resource matching the pattern, those policies allow the
// action and none of their deny statements matches it. Deciding that exactly
// means comparing regular languages, so the check is sound and conservative:
//
//   - allows: one allow pattern must contain the granted pattern on its own
//     (PatternContains). Two allows that only together span it do not cover
//     it (secrets/a/* plus secrets/b/* do not cover secrets/*/x even if those
//     were the only names).
//   - denies: a deny pattern must be provably disjoint from the granted
//     pattern (PatternsOverlap is false), compared without regard to letter
//     case, so a deny on secrets/team-b/** also blocks a grant on
//     secrets/TEAM-B/x whatever the matcher's case rules.
//   - patterns containing non-ASCII bytes are contained only by an identical
//     pattern or a lone `*` segment, and always overlap.
//   - a check that would cost more than coverBudget comparisons refuses.
//
// `*` in a statement stands for every action except escalate, so
// `allow * roles/ops` lets its holder administer ops but not escalate there.

// Permission is one action on every resource matching one pattern.
type Permission struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

// String reads "reveal on secrets/**".
func (p Permission) String() string { return p.Action + " on " + p.Resource }

// StatementsOf concatenates the statements of policies, in order.
func StatementsOf(policies []PolicyView) []Statement {
	var out []Statement
	for _, p := range policies {
		out = append(out, p.Statements...)
	}
	return out
}

// Permissions expands the statements of one effect into permissions with
// concrete actions (`*` becomes every action but escalate), in statement
// order and without duplicates.
func Permissions(statements []Statement, effect string) []Permission {
	var out []Permission
	seen := map[Permission]bool{}
	add := func(p Permission) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, st := range statements {
		if !strings.EqualFold(st.Effect, effect) {
			continue
		}
		for _, r := range st.Resources {
			for _, a := range st.Actions {
				a = strings.ToLower(a)
				if a == ActionAny {
					for _, c := range anyActions() {
						add(Permission{Action: c, Resource: r})
					}
					continue
				}
				add(Permission{Action: a, Resource: r})
			}
		}
	}
	return out
}

// GrantOf is what a change from statements before to statements after hands
// out to the holders of the changed policy, role or user: new allows, and
// lifted denies as allows. An empty grant needs no cover.
func GrantOf(before, after []Statement) []Permission {
	var out []Permission
	seen := map[Permission]bool{}
	c := newCoverCheck()
	oldAllows := Permissions(before, EffectAllow)
	for _, p := range Permissions(after, EffectAllow) {
		if !c.implied(oldAllows, p) && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	newDenies := Permissions(after, EffectDeny)
	for _, p := range Permissions(before, EffectDeny) {
		if !c.implied(newDenies, p) && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Covers reports whether policies allow p's action on every resource
// matching p's pattern, with none of those resources denied.
func Covers(policies []PolicyView, p Permission) bool {
	_, ok := FirstUncovered(policies, []Permission{p}, nil)
	return ok
}

// FirstUncovered returns the first permission of grant that policies do not
// cover; ok is true when they cover all of it. deniedAnyway are denies that
// bind whoever receives the grant (the changed policy's or role's own, or
// the user's): where one of the actor's denies lies inside one of them, the
// receiver cannot use the grant there either, so that deny does not stand
// in the way (an actor and a user sharing a role with a deny still cover
// each other).
func FirstUncovered(policies []PolicyView, grant, deniedAnyway []Permission) (missing Permission, ok bool) {
	c := newCoverCheck()
	for _, p := range grant {
		if !c.covers(policies, p, deniedAnyway) {
			return p, false
		}
	}
	return Permission{}, true
}

// coverBudget bounds the work of one check (pattern comparisons, remembered
// or not, and the steps inside them), so even the largest policies cost a
// fraction of a second; past it the check refuses. Everyday checks need a
// few thousand.
const coverBudget = 10_000_000

// coverCheck splits each pattern once per check and counts the check's
// work.
type coverCheck struct {
	work     int
	segments map[string][]string
}

func newCoverCheck() *coverCheck {
	return &coverCheck{segments: map[string][]string{}}
}

func (c *coverCheck) split(pattern string) []string {
	segs, ok := c.segments[pattern]
	if !ok {
		segs = strings.Split(pattern, "/")
		c.segments[pattern] = segs
	}
	return segs
}

func (c *coverCheck) exhausted() bool { return c.work > coverBudget }

// implied reports whether a permission of set (same action) contains p.
// Unsure (out of budget) is no.
func (c *coverCheck) implied(set []Permission, p Permission) bool {
	for _, q := range set {
		if c.exhausted() {
			return false
		}
		if q.Action == p.Action && c.patternContains(q.Resource, p.Resource) {
			return true
		}
	}
	return false
}

func (c *coverCheck) covers(policies []PolicyView, p Permission, deniedAnyway []Permission) bool {
	allowed := false
	for _, pol := range policies {
		for _, st := range pol.Statements {
			if !statementHasAction(st, p.Action) {
				continue
			}
			for _, r := range st.Resources {
				if c.exhausted() {
					return false
				}
				switch strings.ToLower(st.Effect) {
				case EffectDeny:
					if c.patternsOverlap(r, p.Resource) && !c.implied(deniedAnyway, Permission{Action: p.Action, Resource: r}) {
						return false
					}
				case EffectAllow:
					if !allowed && c.patternContains(r, p.Resource) {
						allowed = true
					}
				}
			}
		}
	}
	return allowed && !c.exhausted()
}

func (c *coverCheck) patternContains(outer, inner string) bool {
	c.work++
	v := patternContains(c.split(outer), c.split(inner), &c.work)
	return v && !c.exhausted() // unsure: claim nothing
}

func (c *coverCheck) patternsOverlap(a, b string) bool {
	c.work++
	v := patternsOverlap(c.split(a), c.split(b), &c.work)
	return v || c.exhausted() // unsure: assume they meet
}

// PatternContains reports whether every resource matching inner also
// matches outer. It is sound (true only when that holds) but may answer
// false for some contained pairs; see the rules at the top of this file.
func PatternContains(outer, inner string) bool {
	work := 0
	return patternContains(strings.Split(outer, "/"), strings.Split(inner, "/"), &work) && work <= coverBudget
}

// PatternsOverlap reports whether some resource may match both patterns.
// It is conservative: false only when no resource can match both, letter
// case disregarded.
func PatternsOverlap(a, b string) bool {
	work := 0
	return patternsOverlap(strings.Split(a, "/"), strings.Split(b, "/"), &work) || work > coverBudget
}

const multiSegment = "**"

// grid is a table of booleans in one allocation: the comparisons below are
// dynamic programs over two patterns' positions.
type grid struct {
	cols  int
	cells []bool
}

func newGrid(rows, cols int) grid { return grid{cols: cols, cells: make([]bool, rows*cols)} }

func (g grid) at(i, j int) bool { return g.cells[i*g.cols+j] }

func (g grid) set(i, j int) { g.cells[i*g.cols+j] = true }

// patternContains aligns inner's segments with outer's: an outer `**`
// absorbs any run of inner segments (`**` included), an outer segment glob
// absorbs exactly one inner segment glob it contains. An inner `**` can
// only be absorbed by an outer `**`, since it may stand for zero or many
// segments.
func patternContains(o, in []string, work *int) bool {
	if slices.Equal(o, in) {
		return true
	}
	// reach[i][j]: outer[:i] absorbs inner[:j] for every expansion.
	reach := newGrid(len(o)+1, len(in)+1)
	reach.set(0, 0)
	for i := 0; i <= len(o); i++ {
		for j := 0; j <= len(in); j++ {
			*work++
			if !reach.at(i, j) || i == len(o) {
				continue
			}
			if o[i] == multiSegment {
				reach.set(i+1, j) // absorbs nothing more
				if j < len(in) {
					reach.set(i, j+1) // absorbs inner[j], stays open
				}
				continue
			}
			if j < len(in) && in[j] != multiSegment && globContains(o[i], in[j], work) {
				reach.set(i+1, j+1)
			}
		}
	}
	return reach.at(len(o), len(in))
}

// globContains reports whether every segment matching inner matches outer,
// where `*` is the only special character. An outer `*` absorbs any run of
// inner symbols (inner's own `*` included); an outer literal byte absorbs
// only the same inner byte. Bytes are compared exactly: that stays sound
// whatever case folding the matcher applies to both sides.
func globContains(outer, inner string, work *int) bool {
	if outer == inner || outer == "*" {
		return true
	}
	if !isASCII(outer) || !isASCII(inner) {
		return false
	}
	reach := newGrid(len(outer)+1, len(inner)+1)
	reach.set(0, 0)
	for i := 0; i <= len(outer); i++ {
		for j := 0; j <= len(inner); j++ {
			*work++
			if !reach.at(i, j) || i == len(outer) {
				continue
			}
			if outer[i] == '*' {
				reach.set(i+1, j)
				if j < len(inner) {
					reach.set(i, j+1)
				}
				continue
			}
			if j < len(inner) && inner[j] != '*' && inner[j] == outer[i] {
				reach.set(i+1, j+1)
			}
		}
	}
	return reach.at(len(outer), len(inner))
}

// patternsOverlap searches for a resource matching both patterns: either
// side's `**` may stand for nothing or swallow a segment the other side's
// glob matches; two globs advance together when some segment matches both.
func patternsOverlap(as, bs []string, work *int) bool {
	reach := newGrid(len(as)+1, len(bs)+1)
	reach.set(0, 0)
	for i := 0; i <= len(as); i++ {
		for j := 0; j <= len(bs); j++ {
			*work++
			if !reach.at(i, j) {
				continue
			}
			aMulti := i < len(as) && as[i] == multiSegment
			bMulti := j < len(bs) && bs[j] == multiSegment
			if aMulti {
				reach.set(i+1, j)
				if j < len(bs) && !bMulti {
					reach.set(i, j+1)
				}
			}
			if bMulti {
				reach.set(i, j+1)
				if i < len(as) && !aMulti {
					reach.set(i+1, j)
				}
			}
			if i < len(as) && j < len(bs) && !aMulti && !bMulti && globsOverlap(as[i], bs[j], work) {
				reach.set(i+1, j+1)
			}
		}
	}
	return reach.at(len(as), len(bs))
}

// globsOverlap reports whether some string matches both globs, ASCII letter
// case disregarded. Non-ASCII input is assumed to overlap: Unicode case
// folding does not map bytes to bytes.
func globsOverlap(x, y string, work *int) bool {
	if !isASCII(x) || !isASCII(y) {
		return true
	}
	x, y = strings.ToLower(x), strings.ToLower(y)
	reach := newGrid(len(x)+1, len(y)+1)
	reach.set(0, 0)
	for i := 0; i <= len(x); i++ {
		for j := 0; j <= len(y); j++ {
			*work++
			if !reach.at(i, j) {
				continue
			}
			xStar := i < len(x) && x[i] == '*'
			yStar := j < len(y) && y[j] == '*'
			if xStar {
				reach.set(i+1, j) // the star ends here
				if j < len(y) && !yStar {
					reach.set(i, j+1) // the star eats y's byte
				}
			}
			if yStar {
				reach.set(i, j+1)
				if i < len(x) && !xStar {
					reach.set(i+1, j)
				}
			}
			if i < len(x) && j < len(y) && !xStar && !yStar && x[i] == y[j] {
				reach.set(i+1, j+1)
			}
		}
	}
	return reach.at(len(x), len(y))
}

func isASCII(s string) bool {
	return !slices.ContainsFunc([]byte(s), func(b byte) bool { return b >= 0x80 })
}
