package domain

import (
	"slices"
	"strings"
	"sync"
)

// Aggregate names of the role streams.
const (
	RoleAggregate     = "role"
	RoleNameAggregate = "rolename"
)

// Role event types.
const (
	EventRoleCreated      = "RoleCreated"
	EventRoleUpdated      = "RoleUpdated"
	EventRoleDeleted      = "RoleDeleted"
	EventRoleNameReserved = "RoleNameReserved"
	EventRoleNameReleased = "RoleNameReleased"
)

// RoleNameReservationStream is the stream that reserves a role name.
func RoleNameReservationStream(name string) string {
	return StreamID(RoleNameAggregate, strings.ToLower(name))
}

// RoleNameReserved claims a role name.
type RoleNameReserved struct {
	RoleID string `json:"role_id"`
}

// RoleNameReleased frees a role name (on delete or rename).
type RoleNameReleased struct {
	RoleID string `json:"role_id"`
}

// RoleCreated starts a role.
type RoleCreated struct {
	RoleID      string   `json:"role_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	PolicyIDs   []string `json:"policy_ids"`
}

// RoleUpdated replaces a role's name, description and policies.
type RoleUpdated struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	PolicyIDs   []string `json:"policy_ids"`
}

// RoleDeleted ends a role; users still naming it get nothing from it.
type RoleDeleted struct{}

// RoleView is a role as authorization sees it.
type RoleView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	PolicyIDs   []string `json:"policy_ids"`
}

type roleState struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	PolicyIDs   []string `json:"policy_ids"`
	Deleted     bool     `json:"deleted"`
}

// Role is the role aggregate (stream role-<id>).
type Role struct {
	AggregateRoot
	state roleState
}

const roleSnapshotLayout = 1

var roleRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[RoleCreated](r, EventRoleCreated, 1)
	Register[RoleUpdated](r, EventRoleUpdated, 1)
	Register[RoleDeleted](r, EventRoleDeleted, 1)
	return r
})

// RoleEvents is the registry of role stream events.
func RoleEvents() *Registry { return roleRegistry() }

func (r *Role) registry() *Registry { return roleRegistry() }
func (r *Role) snapshotState() any  { return &r.state }

func (r *Role) apply(payload any) {
	switch e := payload.(type) {
	case RoleCreated:
		r.state = roleState{Name: e.Name, Description: e.Description, PolicyIDs: slices.Clone(e.PolicyIDs)}
	case RoleUpdated:
		r.state.Name, r.state.Description, r.state.PolicyIDs = e.Name, e.Description, slices.Clone(e.PolicyIDs)
	case RoleDeleted:
		r.state.Deleted = true
	}
}

func checkRoleInput(name, description string, policyIDs []string) (string, string, []string, error) {
	n, err := NormalizeName("role", name)
	if err != nil {
		return "", "", nil, err
	}
	d, err := checkDescription(description)
	if err != nil {
		return "", "", nil, err
	}
	ids, err := normalizeIDs("policy id", policyIDs)
	if err != nil {
		return "", "", nil, err
	}
	return n, d, ids, nil
}

// NewRole creates a role. Whether each policy exists is the command layer's
// check.
func NewRole(id, name, description string, policyIDs []string) (*Role, error) {
	if err := ValidateID("role id", id); err != nil {
		return nil, err
	}
	n, d, ids, err := checkRoleInput(name, description, policyIDs)
	if err != nil {
		return nil, err
	}
	r := &Role{}
	r.setStream(RoleAggregate, id)
	if err := record(r, RoleCreated{RoleID: id, Name: n, Description: d, PolicyIDs: ids}); err != nil {
		return nil, err
	}
	return r, nil
}

// LoadRole folds a role stream.
func LoadRole(events []RecordedEvent) (*Role, error) {
	r := &Role{}
	if err := fold(r, RoleAggregate, events); err != nil {
		return nil, err
	}
	if r.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "role not found")
	}
	return r, nil
}

// RestoreRole loads a role from a snapshot plus later events.
func RestoreRole(snap []byte, version int64, rest []RecordedEvent) (*Role, error) {
	r := &Role{}
	if err := restore(r, RoleAggregate, roleSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return r, nil
}

// Snapshot serialises the role at its loaded version.
func (r *Role) Snapshot() ([]byte, int64, error) { return snapshot(r, roleSnapshotLayout) }

func (r *Role) live() error {
	if r.Version() == 0 || r.state.Deleted {
		return Errorf(ENOTFOUND, "role not found")
	}
	return nil
}

// Update replaces the role; an identical update records nothing.
func (r *Role) Update(name, description string, policyIDs []string) error {
	if err := r.live(); err != nil {
		return err
	}
	n, d, ids, err := checkRoleInput(name, description, policyIDs)
	if err != nil {
		return err
	}
	if r.ID() == AdminRoleID {
		if err := checkAdminRoleKept(r.state, n, ids); err != nil {
			return err
		}
	}
	if n == r.state.Name && d == r.state.Description && slices.Equal(ids, r.state.PolicyIDs) {
		return nil
	}
	return record(r, RoleUpdated{Name: n, Description: d, PolicyIDs: ids})
}

// Delete marks the role deleted; the built-in admin role stays.
func (r *Role) Delete() error {
	if err := r.live(); err != nil {
		return err
	}
	if r.ID() == AdminRoleID {
		return Errorf(EUNPROCESSABLE, "the built-in admin role cannot be deleted")
	}
	return record(r, RoleDeleted{})
}

// Name is the lowercased role name.
func (r *Role) Name() string { return r.state.Name }

// Description is the free-text description.
func (r *Role) Description() string { return r.state.Description }

// PolicyIDs are the role's policies, sorted.
func (r *Role) PolicyIDs() []string { return slices.Clone(r.state.PolicyIDs) }

// Deleted reports whether the role was deleted.
func (r *Role) Deleted() bool { return r.state.Deleted }

// View is the role as authorization consumes it.
func (r *Role) View() RoleView {
	return RoleView{ID: r.ID(), Name: r.state.Name, Description: r.state.Description, PolicyIDs: slices.Clone(r.state.PolicyIDs)}
}
