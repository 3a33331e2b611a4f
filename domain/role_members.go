package domain

import (
	"slices"
	"sync"
)

// RoleMembersAggregate names the streams that list who holds a role
// (rolemembers-<role id>). Only the built-in admin role has one: it is what
// makes "the last holder of the admin role cannot lose it" a decision taken
// at write time. Every change that makes a user gain or lose the admin role
// in use (assigning or removing the role, disabling, enabling or deleting a
// holder) appends to this stream with its expected version, in the same
// atomic append as the user's own events, so two such changes can never both
// be decided on the same membership, on one replica or many.
const RoleMembersAggregate = "rolemembers"

// Role membership event types.
const (
	EventRoleMemberAdded   = "RoleMemberAdded"
	EventRoleMemberRemoved = "RoleMemberRemoved"
)

// RoleMemberAdded records that a user now holds the role in use (holds it,
// and is neither disabled nor deleted).
type RoleMemberAdded struct {
	UserID string `json:"user_id"`
}

// RoleMemberRemoved records that a user no longer holds the role in use.
type RoleMemberRemoved struct {
	UserID string `json:"user_id"`
}

// AdminMembersStream is the membership stream of the built-in admin role.
func AdminMembersStream() string { return StreamID(RoleMembersAggregate, AdminRoleID) }

type roleMembersState struct {
	Members []string `json:"members"`
}

// RoleMembers is the membership aggregate of one role.
type RoleMembers struct {
	AggregateRoot
	state roleMembersState
}

const roleMembersSnapshotLayout = 1

var roleMembersRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[RoleMemberAdded](r, EventRoleMemberAdded, 1)
	Register[RoleMemberRemoved](r, EventRoleMemberRemoved, 1)
	return r
})

// RoleMembersEvents is the registry of membership events.
func RoleMembersEvents() *Registry { return roleMembersRegistry() }

func (m *RoleMembers) registry() *Registry { return roleMembersRegistry() }
func (m *RoleMembers) snapshotState() any  { return &m.state }

func (m *RoleMembers) apply(payload any) {
	switch e := payload.(type) {
	case RoleMemberAdded:
		if !slices.Contains(m.state.Members, e.UserID) {
			m.state.Members = append(m.state.Members, e.UserID)
			slices.Sort(m.state.Members)
		}
	case RoleMemberRemoved:
		m.state.Members = slices.DeleteFunc(m.state.Members, func(id string) bool { return id == e.UserID })
	}
}

// LoadRoleMembers folds the membership stream of roleID; no events is a
// role nobody holds (or a store that has not recorded it yet).
func LoadRoleMembers(roleID string, events []RecordedEvent) (*RoleMembers, error) {
	if err := ValidateID("role id", roleID); err != nil {
		return nil, err
	}
	m := &RoleMembers{}
	m.setStream(RoleMembersAggregate, roleID)
	if err := fold(m, RoleMembersAggregate, events); err != nil {
		return nil, err
	}
	return m, nil
}

// Members are the users recorded as holding the role, sorted.
func (m *RoleMembers) Members() []string { return slices.Clone(m.state.Members) }

// Recorded reports whether the membership was ever recorded (the stream
// exists).
func (m *RoleMembers) Recorded() bool { return m.Version() > 0 }

// Add records that userID now holds the role. It records even when userID
// is listed already, so the append still carries the expected version that
// orders it against every other membership change.
func (m *RoleMembers) Add(userID string) error {
	if err := ValidateID("user id", userID); err != nil {
		return err
	}
	return record(m, RoleMemberAdded{UserID: userID})
}

// Remove records that userID no longer holds the role. verifiedOthers are
// the other members the caller has just confirmed, from their own streams,
// still hold it: the membership list is trusted to order changes, never to
// vouch that someone else is left. With none, userID is the last holder and
// the change is refused.
func (m *RoleMembers) Remove(userID string, verifiedOthers []string) error {
	if err := ValidateID("user id", userID); err != nil {
		return err
	}
	others := slices.DeleteFunc(slices.Clone(verifiedOthers), func(id string) bool {
		return id == userID || !slices.Contains(m.state.Members, id)
	})
	if len(others) == 0 {
		return Errorf(EUNPROCESSABLE, "the last holder of the admin role cannot lose it (nor be disabled or deleted)")
	}
	return record(m, RoleMemberRemoved{UserID: userID})
}

// Snapshot serialises the membership at its loaded version.
func (m *RoleMembers) Snapshot() ([]byte, int64, error) {
	return snapshot(m, roleMembersSnapshotLayout)
}

// RestoreRoleMembers loads a membership from a snapshot plus later events.
func RestoreRoleMembers(snap []byte, version int64, rest []RecordedEvent) (*RoleMembers, error) {
	m := &RoleMembers{}
	if err := restore(m, RoleMembersAggregate, roleMembersSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return m, nil
}
