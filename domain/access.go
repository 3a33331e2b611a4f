package domain

import "sync"

// AccessAggregate names the per-user streams of access decisions worth
// auditing: denied attempts. They live outside the resource's own stream so
// recording a denial never changes (or races with) the resource's version.
const AccessAggregate = "access"

// EventAccessDenied is appended whenever an authenticated caller is refused.
const EventAccessDenied = "AccessDenied"

// AccessDenied records who tried what on which resource, and why it was
// refused. The caller's IP and user agent are in the event metadata.
type AccessDenied struct {
	UserID   string `json:"user_id"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Reason   string `json:"reason"`
}

// AccessStream is the stream of a user's denied attempts.
func AccessStream(userID string) string { return StreamID(AccessAggregate, userID) }

var accessRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[AccessDenied](r, EventAccessDenied, 1)
	return r
})

// AccessEvents is the registry of access-stream events.
func AccessEvents() *Registry { return accessRegistry() }

// NewAccessDeniedEvent builds the event for a refused request.
func NewAccessDeniedEvent(d AccessDenied, md Metadata) NewEvent {
	return accessRegistry().newEvent(d, md)
}
