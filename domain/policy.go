package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Aggregate names of the policy streams.
const (
	PolicyAggregate     = "policy"
	PolicyNameAggregate = "policyname"
)

// Policy event types.
const (
	EventPolicyCreated      = "PolicyCreated"
	EventPolicyUpdated      = "PolicyUpdated"
	EventPolicyDeleted      = "PolicyDeleted"
	EventPolicyNameReserved = "PolicyNameReserved"
	EventPolicyNameReleased = "PolicyNameReleased"
)

// Statement effects.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// Actions a statement can grant or deny. ActionAny matches every action
// except ActionEscalate, which must always be named (see covers.go).
const (
	ActionRead    = "read"
	ActionList    = "list"
	ActionWrite   = "write"
	ActionRotate  = "rotate"
	ActionDelete  = "delete"
	ActionReveal  = "reveal"
	ActionDestroy = "destroy"
	ActionAdmin   = "admin"
	// ActionEscalate on users/<name>, roles/<name> or policies/<name> lets
	// its holder grant there what it does not hold itself (Kubernetes'
	// escalate and bind verbs).
	ActionEscalate = "escalate"
	ActionAny      = "*"
)

// Resource types: the first segment of every resource path.
const (
	ResourceSecrets  = "secrets"
	ResourceFiles    = "files"
	ResourceUsers    = "users"
	ResourceRoles    = "roles"
	ResourcePolicies = "policies"
	ResourceAudit    = "audit"
)

// Built-in identities created at bootstrap. Their ids are fixed so a second
// bootstrap on a non-empty store finds them instead of creating twins.
const (
	AdminPolicyID   = "00000000-0000-4000-8000-000000000001"
	AdminPolicyName = "admin"
	AdminRoleID     = "00000000-0000-4000-8000-000000000002"
	AdminRoleName   = "admin"
	AdminUsername   = "admin"
)

// Limits that keep a policy cheap to evaluate and to display.
const (
	maxStatements      = 100
	maxStatementItems  = 50
	maxResourceLength  = 1024
	maxPatternSegments = 32
	maxDescription     = 1024
	nameMaxLength      = 64
)

// Statement allows or denies actions on resources matching patterns.
type Statement struct {
	Effect    string   `json:"effect"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
}

// PolicyView is a policy as the decision function sees it.
type PolicyView struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Statements  []Statement `json:"statements"`
}

// AdminPolicy is the built-in policy that allows every action on every
// resource, escalate included (`*` does not imply it). It is a function, not
// a variable, so nobody can edit it.
func AdminPolicy() PolicyView {
	return PolicyView{
		ID:          AdminPolicyID,
		Name:        AdminPolicyName,
		Description: "Built-in: allows every action on every resource.",
		Statements:  []Statement{{Effect: EffectAllow, Actions: []string{ActionAny, ActionEscalate}, Resources: []string{"**"}}},
	}
}

// NormalizeName folds a role or policy name and checks it: 1–64
// characters of [a-z0-9._-]. Names appear in resource paths (roles/<name>),
// so they share the username alphabet.
func NormalizeName(kind, name string) (string, error) {
	n := FoldName(name)
	if n == "" || len(n) > nameMaxLength {
		return "", Errorf(EINVALID, "%s name must be 1 to %d characters long", kind, nameMaxLength)
	}
	if !validNameChars(n) {
		return "", Errorf(EINVALID, "%s name may contain only letters, digits, '.', '_' and '-'", kind)
	}
	return n, nil
}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if len([]rune(d)) > maxDescription {
		return "", Errorf(EINVALID, "description must be at most %d characters long", maxDescription)
	}
	if strings.IndexFunc(d, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return "", Errorf(EINVALID, "description must not contain control characters")
	}
	return d, nil
}

// PolicyNameReservationStream is the stream that reserves a policy name.
func PolicyNameReservationStream(name string) string {
	return StreamID(PolicyNameAggregate, strings.ToLower(name))
}

// PolicyNameReserved claims a policy name.
type PolicyNameReserved struct {
	PolicyID string `json:"policy_id"`
}

// PolicyNameReleased frees a policy name (on delete or rename).
type PolicyNameReleased struct {
	PolicyID string `json:"policy_id"`
}

// anyActions are the actions `*` stands for: every action but escalate. It
// is the one list of actions, so a new action is covered by `*` and by the
// no-escalation check at once.
func anyActions() []string {
	return []string{ActionRead, ActionList, ActionWrite, ActionRotate, ActionDelete, ActionReveal, ActionDestroy, ActionAdmin}
}

func isAction(a string) bool {
	return a == ActionAny || a == ActionEscalate || slices.Contains(anyActions(), a)
}

func isResourceType(t string) bool {
	switch t {
	case ResourceSecrets, ResourceFiles, ResourceUsers, ResourceRoles, ResourcePolicies, ResourceAudit, ResourceServiceAccounts:
		return true
	}
	return false
}

// nameSegments is how many name segments a resource type allows after the
// type (-1: any number, for hierarchical names).
func nameSegments(t string) int {
	switch t {
	case ResourceSecrets, ResourceFiles:
		return -1
	case ResourceAudit:
		return 0
	}
	return 1
}

// NormalizeResourcePattern checks a statement's resource pattern and returns
// its canonical (folded) form. Segments follow the name grammar (see
// names.go), so "..", "%2f", empty segments and characters no name can
// hold are refused; the only wildcards are `*`, any characters within one
// segment, and `**`, a whole segment standing for zero or more segments. A
// literal first segment must be a resource type.
func NormalizeResourcePattern(p string) (string, error) {
	what := fmt.Sprintf("resource pattern %q", truncate(p, 80))
	if p == "" || len(p) > maxResourceLength {
		return "", Errorf(EINVALID, "%s must be 1 to %d bytes long", what, maxResourceLength)
	}
	folded := FoldName(p)
	segs := strings.Split(folded, "/")
	if len(segs) > maxPatternSegments {
		return "", Errorf(EINVALID, "%s has more than %d segments", what, maxPatternSegments)
	}
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if problem := nameSegmentProblem(s, true); problem != "" {
			return "", Errorf(EINVALID, "%s %s", what, problem)
		}
		if strings.Contains(s, "**") {
			return "", Errorf(EINVALID, "%s: '**' must be a whole segment", what)
		}
	}
	typ := segs[0]
	if strings.Contains(typ, "*") {
		return folded, nil
	}
	if !isResourceType(typ) {
		return "", Errorf(EINVALID, "%s: unknown resource type %q (want secrets, files, users, roles, policies, service-accounts or audit)", what, truncate(typ, 32))
	}
	named := 0
	for _, s := range segs[1:] {
		if s != "**" {
			named++
		}
	}
	if max := nameSegments(typ); max >= 0 && named > max {
		return "", Errorf(EINVALID, "%s: %s names have %d segment(s)", what, typ, max)
	}
	return folded, nil
}

// NormalizeResource checks a concrete resource path (no wildcards): a type,
// optionally followed by a name ("secrets" alone is the collection), and
// returns its canonical (folded) form, the one policies are matched on.
func NormalizeResource(r string) (string, error) {
	// what names the resource in a refusal; built only for one, since
	// every authorization decision normalizes a resource.
	what := func() string { return "resource " + strconv.Quote(truncate(r, 80)) }
	if r == "" || len(r) > maxResourceLength {
		return "", Errorf(EINVALID, "%s must be 1 to %d bytes long", what(), maxResourceLength)
	}
	folded := FoldName(r)
	segs := strings.Split(folded, "/")
	for _, s := range segs {
		if strings.Contains(s, "*") {
			return "", Errorf(EINVALID, "%s must not contain wildcards", what())
		}
		if problem := nameSegmentProblem(s, false); problem != "" {
			return "", Errorf(EINVALID, "%s %s", what(), problem)
		}
	}
	if !isResourceType(segs[0]) {
		return "", Errorf(EINVALID, "%s: unknown resource type", what())
	}
	if max := nameSegments(segs[0]); max >= 0 && len(segs)-1 > max {
		return "", Errorf(EINVALID, "%s: %s names have %d segment(s)", what(), segs[0], max)
	}
	return folded, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// NormalizeStatements validates statements and returns their canonical form:
// effect and actions lowercased, duplicates dropped, patterns normalized.
func NormalizeStatements(in []Statement) ([]Statement, error) {
	if len(in) > maxStatements {
		return nil, Errorf(EINVALID, "a policy has at most %d statements", maxStatements)
	}
	out := make([]Statement, 0, len(in))
	for i, st := range in {
		effect := strings.ToLower(st.Effect)
		if effect != EffectAllow && effect != EffectDeny {
			return nil, Errorf(EINVALID, "statement %d: effect must be \"allow\" or \"deny\"", i)
		}
		if len(st.Actions) == 0 || len(st.Actions) > maxStatementItems {
			return nil, Errorf(EINVALID, "statement %d: actions must list 1 to %d actions", i, maxStatementItems)
		}
		if len(st.Resources) == 0 || len(st.Resources) > maxStatementItems {
			return nil, Errorf(EINVALID, "statement %d: resources must list 1 to %d patterns", i, maxStatementItems)
		}
		norm := Statement{Effect: effect, Actions: []string{}, Resources: []string{}}
		for _, a := range st.Actions {
			a = strings.ToLower(a)
			if !isAction(a) {
				return nil, Errorf(EINVALID, "statement %d: unknown action %q", i, truncate(a, 32))
			}
			if !slices.Contains(norm.Actions, a) {
				norm.Actions = append(norm.Actions, a)
			}
		}
		for _, r := range st.Resources {
			p, err := NormalizeResourcePattern(r)
			if err != nil {
				return nil, WrapError(EINVALID, fmt.Sprintf("statement %d: %s", i, ErrorMessage(err)), err)
			}
			if !slices.Contains(norm.Resources, p) {
				norm.Resources = append(norm.Resources, p)
			}
		}
		out = append(out, norm)
	}
	return out, nil
}

func cloneStatements(in []Statement) []Statement {
	out := make([]Statement, len(in))
	for i, st := range in {
		out[i] = Statement{Effect: st.Effect, Actions: slices.Clone(st.Actions), Resources: slices.Clone(st.Resources)}
	}
	return out
}

// PolicyCreated starts a policy.
type PolicyCreated struct {
	PolicyID    string      `json:"policy_id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Statements  []Statement `json:"statements"`
}

// PolicyUpdated replaces a policy's name, description and statements.
type PolicyUpdated struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Statements  []Statement `json:"statements"`
}

// PolicyDeleted ends a policy; roles still naming it grant nothing from it.
type PolicyDeleted struct{}

type policyState struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Statements  []Statement `json:"statements"`
	Deleted     bool        `json:"deleted"`
}

// Policy is the policy aggregate (stream policy-<id>).
type Policy struct {
	AggregateRoot
	state policyState
}

const policySnapshotLayout = 1

var policyRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[PolicyCreated](r, EventPolicyCreated, 1)
	Register[PolicyUpdated](r, EventPolicyUpdated, 1)
	Register[PolicyDeleted](r, EventPolicyDeleted, 1)
	return r
})

// PolicyEvents is the registry of policy stream events.
func PolicyEvents() *Registry { return policyRegistry() }

func (p *Policy) registry() *Registry { return policyRegistry() }
func (p *Policy) snapshotState() any  { return &p.state }

func (p *Policy) apply(payload any) {
	switch e := payload.(type) {
	case PolicyCreated:
		p.state = policyState{Name: e.Name, Description: e.Description, Statements: cloneStatements(e.Statements)}
	case PolicyUpdated:
		p.state.Name, p.state.Description, p.state.Statements = e.Name, e.Description, cloneStatements(e.Statements)
	case PolicyDeleted:
		p.state.Deleted = true
	}
}

func checkPolicyInput(name, description string, statements []Statement) (string, string, []Statement, error) {
	n, err := NormalizeName("policy", name)
	if err != nil {
		return "", "", nil, err
	}
	d, err := checkDescription(description)
	if err != nil {
		return "", "", nil, err
	}
	st, err := NormalizeStatements(statements)
	if err != nil {
		return "", "", nil, err
	}
	return n, d, st, nil
}

// NewPolicy creates a policy. A policy with no statements is valid and
// grants nothing.
func NewPolicy(id, name, description string, statements []Statement) (*Policy, error) {
	if err := ValidateID("policy id", id); err != nil {
		return nil, err
	}
	n, d, st, err := checkPolicyInput(name, description, statements)
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	p.setStream(PolicyAggregate, id)
	if err := record(p, PolicyCreated{PolicyID: id, Name: n, Description: d, Statements: st}); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadPolicy folds a policy stream.
func LoadPolicy(events []RecordedEvent) (*Policy, error) {
	p := &Policy{}
	if err := fold(p, PolicyAggregate, events); err != nil {
		return nil, err
	}
	if p.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "policy not found")
	}
	return p, nil
}

// RestorePolicy loads a policy from a snapshot plus later events.
func RestorePolicy(snap []byte, version int64, rest []RecordedEvent) (*Policy, error) {
	p := &Policy{}
	if err := restore(p, PolicyAggregate, policySnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return p, nil
}

// Snapshot serialises the policy at its loaded version.
func (p *Policy) Snapshot() ([]byte, int64, error) { return snapshot(p, policySnapshotLayout) }

func (p *Policy) live() error {
	if p.Version() == 0 || p.state.Deleted {
		return Errorf(ENOTFOUND, "policy not found")
	}
	return nil
}

// Update replaces the policy; an identical update records nothing. A changed
// name needs the command layer to swap the name reservation atomically.
func (p *Policy) Update(name, description string, statements []Statement) error {
	if err := p.live(); err != nil {
		return err
	}
	n, d, st, err := checkPolicyInput(name, description, statements)
	if err != nil {
		return err
	}
	if p.ID() == AdminPolicyID {
		if err := checkAdminPolicyKept(p.state, n, st); err != nil {
			return err
		}
	}
	if n == p.state.Name && d == p.state.Description && statementsEqual(st, p.state.Statements) {
		return nil
	}
	return record(p, PolicyUpdated{Name: n, Description: d, Statements: st})
}

func statementsEqual(a, b []Statement) bool {
	return slices.EqualFunc(a, b, func(x, y Statement) bool {
		return x.Effect == y.Effect && slices.Equal(x.Actions, y.Actions) && slices.Equal(x.Resources, y.Resources)
	})
}

// Delete marks the policy deleted. The built-in admin policy cannot be
// deleted: bootstrap depends on it.
func (p *Policy) Delete() error {
	if err := p.live(); err != nil {
		return err
	}
	if p.ID() == AdminPolicyID {
		return Errorf(EUNPROCESSABLE, "the built-in admin policy cannot be deleted")
	}
	return record(p, PolicyDeleted{})
}

// Name is the lowercased policy name.
func (p *Policy) Name() string { return p.state.Name }

// Description is the free-text description.
func (p *Policy) Description() string { return p.state.Description }

// Deleted reports whether the policy was deleted.
func (p *Policy) Deleted() bool { return p.state.Deleted }

// View is the policy as Decide consumes it.
func (p *Policy) View() PolicyView {
	return PolicyView{ID: p.ID(), Name: p.state.Name, Description: p.state.Description, Statements: cloneStatements(p.state.Statements)}
}
