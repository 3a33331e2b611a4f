package domain

// Caller is who sends a command or a query and from where. Both halves of
// the service take it: a command stamps it into the metadata of every event
// it appends (which is what the audit log shows), a query decides with its
// principal's policies and records a refusal under its name.
type Caller struct {
	Principal     Principal
	ClientIP      string
	UserAgent     string
	RequestID     string
	CorrelationID string
}

// Metadata stamps events appended on the caller's behalf.
func (c Caller) Metadata() Metadata {
	actor := c.Principal.UserID
	if actor == "" {
		actor = AnonymousActor
	}
	return Metadata{
		Actor:         actor,
		ActorName:     c.Principal.Username,
		ClientIP:      c.ClientIP,
		UserAgent:     c.UserAgent,
		RequestID:     c.RequestID,
		CorrelationID: c.CorrelationID,
		CausationID:   c.RequestID,
	}
}

// RequireAuthenticated refuses a caller without a valid session before any
// work is done on its behalf.
func (c Caller) RequireAuthenticated() error {
	if !c.Principal.Authenticated() {
		return Errorf(EUNAUTHORIZED, "authentication required")
	}
	return nil
}

// Principal is an authenticated user with the policies in force for it.
type Principal struct {
	UserID    string
	Username  string
	SessionID string
	Policies  []PolicyView
	// DecidedAt is the log position the principal was decided at: at least
	// the head of the log when the request arrived (0: not known). A read
	// of a read model waits until the read model has applied it, so a
	// request sees every write that committed before it began, whichever
	// replica wrote it, without the write waiting for the read models.
	DecidedAt int64
}

// Authenticated reports whether the principal came from a valid session.
func (p Principal) Authenticated() bool { return p.UserID != "" }
