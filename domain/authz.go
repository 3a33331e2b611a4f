package domain

import (
	"strconv"
	"strings"
)

// AccessRequest is one attempted action on one concrete resource.
type AccessRequest struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

// Decision is the outcome of Decide and the reason for it, so an operator
// can see which statement decided (StatementIndex -1: none did).
type Decision struct {
	Allowed        bool   `json:"allowed"`
	Effect         string `json:"effect"`
	PolicyID       string `json:"policy_id,omitempty"`
	PolicyName     string `json:"policy_name,omitempty"`
	StatementIndex int    `json:"statement_index"`
	// Pattern is the resource pattern of the deciding statement that matched.
	Pattern string `json:"pattern,omitempty"`
	Reason  string `json:"reason"`
}

func defaultDeny(reason string) Decision {
	return Decision{Effect: EffectDeny, StatementIndex: -1, Reason: reason}
}

// Decide evaluates a request against policies: nothing is allowed unless a
// statement allows it, and any matching deny wins over every allow. It is
// pure, so an old decision can be re-evaluated from the policies of the day.
// Among several deciding statements the first in policy order is reported.
func Decide(req AccessRequest, policies []PolicyView) Decision {
	action := strings.ToLower(req.Action)
	if !isAction(action) || action == ActionAny {
		return defaultDeny("unknown action; denied")
	}
	resource, err := NormalizeResource(req.Resource)
	if err != nil {
		return defaultDeny("invalid resource; denied")
	}
	res := strings.Split(resource, "/")
	var allow *Decision
	for _, p := range policies {
		for i, st := range p.Statements {
			if !statementHasAction(st, action) {
				continue
			}
			pattern, ok := statementMatches(st, res)
			if !ok {
				continue
			}
			d := Decision{
				Effect: st.Effect, PolicyID: p.ID, PolicyName: p.Name, StatementIndex: i, Pattern: pattern,
			}
			switch st.Effect {
			case EffectDeny:
				d.Reason = statementReason("denied", i, p.Name, pattern)
				return d
			case EffectAllow:
				if allow == nil {
					d.Allowed = true
					d.Reason = statementReason("allowed", i, p.Name, pattern)
					allow = &d
				}
			}
		}
	}
	if allow != nil {
		return *allow
	}
	return defaultDeny("no statement matched; denied by default")
}

// statementReason explains a decision taken by statement i of a policy. It
// is built on every authorized request, so without fmt.
func statementReason(verdict string, i int, policy, pattern string) string {
	return verdict + " by statement " + strconv.Itoa(i) + " of policy " + strconv.Quote(policy) + " (pattern " + strconv.Quote(pattern) + ")"
}

// PoliciesFor resolves user → roles → policies. Roles or policies that are
// missing (deleted) contribute nothing; each policy appears once, in the
// order of the user's roles and each role's policies.
func PoliciesFor(roleIDs []string, roles map[string]RoleView, policies map[string]PolicyView) []PolicyView {
	var out []PolicyView
	seen := map[string]bool{}
	for _, rid := range roleIDs {
		role, ok := roles[rid]
		if !ok {
			continue
		}
		for _, pid := range role.PolicyIDs {
			p, ok := policies[pid]
			if !ok || seen[pid] {
				continue
			}
			seen[pid] = true
			out = append(out, p)
		}
	}
	return out
}

// statementHasAction: `*` stands for every action but escalate, so a
// statement hands out escalate only where it names it.
func statementHasAction(st Statement, action string) bool {
	for _, a := range st.Actions {
		if strings.EqualFold(a, action) || a == ActionAny && !strings.EqualFold(action, ActionEscalate) {
			return true
		}
	}
	return false
}

func statementMatches(st Statement, res []string) (string, bool) {
	for _, p := range st.Resources {
		if MatchResource(p, res) {
			return p, true
		}
	}
	return "", false
}

// MatchResource reports whether pattern matches the resource segments: `**`
// spans zero or more whole segments, `*` any characters inside one. ASCII
// letters match regardless of case, because names are case-insensitive
// (see names.go) and patterns stored before patterns were folded keep the
// case they were written in. It runs
// in O(len(pattern) × len(resource)) segment comparisons whatever the
// pattern, so a hostile policy cannot make decisions slow.
func MatchResource(pattern string, res []string) bool {
	pat := strings.Split(pattern, "/")
	// m[j] is whether pat[:i] matches res[:j] for the current i.
	m := make([]bool, len(res)+1)
	m[0] = true
	for _, ps := range pat {
		next := make([]bool, len(res)+1)
		if ps == "**" {
			// ** may consume nothing, or extend a match by one segment.
			reached := false
			for j := 0; j <= len(res); j++ {
				reached = reached || m[j]
				next[j] = reached
			}
		} else {
			for j := 1; j <= len(res); j++ {
				next[j] = m[j-1] && matchSegment(ps, res[j-1])
			}
		}
		m = next
	}
	return m[len(res)]
}

// matchSegment is a glob match where only `*` is special.
func matchSegment(pat, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, i
			p++
		case p < len(pat) && foldByte(pat[p]) == foldByte(s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

func foldByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
