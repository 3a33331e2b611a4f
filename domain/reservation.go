package domain

import "sync"

// Reservation is a name-reservation stream (username-<name>,
// rolename-<name>, policyname-<name>, serviceaccountname-<name>). A name is free when its stream does
// not exist or its last event is a release; the command layer appends with
// Expected(), so two claims on one name cannot both succeed.
type Reservation struct {
	AggregateRoot
	state reservationState
}

type reservationState struct {
	Owner string `json:"owner"`
}

var reservationRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[UsernameReserved](r, EventUsernameReserved, 1)
	Register[UsernameReleased](r, EventUsernameReleased, 1)
	Register[RoleNameReserved](r, EventRoleNameReserved, 1)
	Register[RoleNameReleased](r, EventRoleNameReleased, 1)
	Register[PolicyNameReserved](r, EventPolicyNameReserved, 1)
	Register[PolicyNameReleased](r, EventPolicyNameReleased, 1)
	Register[ServiceAccountNameReserved](r, EventServiceAccountNameReserved, 1)
	Register[ServiceAccountNameReleased](r, EventServiceAccountNameReleased, 1)
	return r
})

// ReservationEvents is the registry of name-reservation events.
func ReservationEvents() *Registry { return reservationRegistry() }

func (r *Reservation) registry() *Registry { return reservationRegistry() }
func (r *Reservation) snapshotState() any  { return &r.state }

func (r *Reservation) apply(payload any) {
	switch e := payload.(type) {
	case UsernameReserved:
		r.state.Owner = e.UserID
	case RoleNameReserved:
		r.state.Owner = e.RoleID
	case PolicyNameReserved:
		r.state.Owner = e.PolicyID
	case ServiceAccountNameReserved:
		r.state.Owner = e.ServiceAccountID
	case UsernameReleased, RoleNameReleased, PolicyNameReleased, ServiceAccountNameReleased:
		r.state.Owner = ""
	}
}

func isReservationAggregate(agg string) bool {
	return agg == UsernameAggregate || agg == RoleNameAggregate || agg == PolicyNameAggregate || agg == ServiceAccountNameAggregate
}

// LoadReservation folds a reservation stream; no events means a free name.
// streamID is one of UsernameReservationStream, RoleNameReservationStream,
// PolicyNameReservationStream.
func LoadReservation(streamID string, events []RecordedEvent) (*Reservation, error) {
	agg := AggregateOf(streamID)
	if !isReservationAggregate(agg) || len(streamID) <= len(agg)+1 {
		return nil, Errorf(EINTERNAL, "%s is not a reservation stream", streamID)
	}
	r := &Reservation{}
	r.streamID, r.id = streamID, streamID[len(agg)+1:]
	if err := fold(r, agg, events); err != nil {
		return nil, err
	}
	return r, nil
}

// Owner is the id holding the name, or "" when the name is free.
func (r *Reservation) Owner() string { return r.state.Owner }

// Reserve claims the name for ownerID. Holding it already is a no-op;
// another owner holding it is a conflict.
func (r *Reservation) Reserve(ownerID string) error {
	if err := ValidateID("owner id", ownerID); err != nil {
		return err
	}
	switch r.state.Owner {
	case ownerID:
		return nil
	case "":
	default:
		return Errorf(ECONFLICT, "the name %q is already taken", r.id)
	}
	switch AggregateOf(r.streamID) {
	case UsernameAggregate:
		return record(r, UsernameReserved{UserID: ownerID})
	case RoleNameAggregate:
		return record(r, RoleNameReserved{RoleID: ownerID})
	case ServiceAccountNameAggregate:
		return record(r, ServiceAccountNameReserved{ServiceAccountID: ownerID})
	default:
		return record(r, PolicyNameReserved{PolicyID: ownerID})
	}
}

// Release frees the name if ownerID holds it.
func (r *Reservation) Release(ownerID string) error {
	if r.state.Owner != ownerID || ownerID == "" {
		return Errorf(ECONFLICT, "the name %q is not held by this owner", r.id)
	}
	switch AggregateOf(r.streamID) {
	case UsernameAggregate:
		return record(r, UsernameReleased{UserID: ownerID})
	case RoleNameAggregate:
		return record(r, RoleNameReleased{RoleID: ownerID})
	case ServiceAccountNameAggregate:
		return record(r, ServiceAccountNameReleased{ServiceAccountID: ownerID})
	default:
		return record(r, PolicyNameReleased{PolicyID: ownerID})
	}
}
