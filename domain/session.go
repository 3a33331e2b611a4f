package domain

import (
	"sync"
	"time"
)

// SessionStarted opens a session whose current refresh token is
// RefreshTokenID (the token's jti, never the token itself).
type SessionStarted struct {
	SessionID      string    `json:"session_id"`
	UserID         string    `json:"user_id"`
	RefreshTokenID string    `json:"refresh_token_id"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// SessionRefreshed rotates the refresh token: only RefreshTokenID is valid
// afterwards.
type SessionRefreshed struct {
	PreviousTokenID string    `json:"previous_token_id"`
	RefreshTokenID  string    `json:"refresh_token_id"`
	ExpiresAt       time.Time `json:"expires_at"`
}

// SessionRevoked ends a session; Reason is one of the Revoke* constants.
type SessionRevoked struct {
	Reason string `json:"reason"`
}

// RefreshReuseDetected records that a spent refresh token was presented,
// which means it was stolen or replayed; the session is revoked with it.
type RefreshReuseDetected struct {
	TokenID string `json:"token_id"`
}

// Reasons a session is revoked.
const (
	RevokeLogout      = "logout"
	RevokeUserDeleted = "user_deleted"
	RevokeDisabled    = "user_disabled"
	RevokeReuse       = "refresh_reuse"
	RevokeAdmin       = "admin"
	// RevokePasswordChanged ends the other sessions of a user whose
	// password changed: whoever knew the old one is logged out.
	RevokePasswordChanged = "password_changed"
)

type sessionState struct {
	UserID         string    `json:"user_id"`
	RefreshTokenID string    `json:"refresh_token_id"`
	ExpiresAt      time.Time `json:"expires_at"`
	Revoked        bool      `json:"revoked"`
	RevokeReason   string    `json:"revoke_reason,omitempty"`
	ReuseDetected  bool      `json:"reuse_detected"`
}

// Session is a login session (stream session-<id>). Rotating its refresh
// token is an append with Expected(): of two concurrent refreshes with the
// same token exactly one wins, and the loser retries into reuse detection.
type Session struct {
	AggregateRoot
	state sessionState
}

const sessionSnapshotLayout = 1

var sessionRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[SessionStarted](r, EventSessionStarted, 1)
	Register[SessionRefreshed](r, EventSessionRefreshed, 1)
	Register[SessionRevoked](r, EventSessionRevoked, 1)
	Register[RefreshReuseDetected](r, EventRefreshReuseDetected, 1)
	return r
})

// SessionEvents is the registry of session events.
func SessionEvents() *Registry { return sessionRegistry() }

func (s *Session) registry() *Registry { return sessionRegistry() }
func (s *Session) snapshotState() any  { return &s.state }

func (s *Session) apply(payload any) {
	switch e := payload.(type) {
	case SessionStarted:
		s.state = sessionState{UserID: e.UserID, RefreshTokenID: e.RefreshTokenID, ExpiresAt: e.ExpiresAt}
	case SessionRefreshed:
		s.state.RefreshTokenID = e.RefreshTokenID
		s.state.ExpiresAt = e.ExpiresAt
	case SessionRevoked:
		s.state.Revoked = true
		s.state.RevokeReason = e.Reason
	case RefreshReuseDetected:
		s.state.Revoked = true
		s.state.RevokeReason = RevokeReuse
		s.state.ReuseDetected = true
	}
}

// StartSession opens session id for userID with its first refresh token.
func StartSession(id, userID, refreshTokenID string, expiresAt time.Time) (*Session, error) {
	for field, v := range map[string]string{"session id": id, "user id": userID, "refresh token id": refreshTokenID} {
		if err := ValidateID(field, v); err != nil {
			return nil, err
		}
	}
	if expiresAt.IsZero() {
		return nil, Errorf(EINVALID, "session expiry is required")
	}
	s := &Session{}
	s.setStream(SessionAggregate, id)
	if err := record(s, SessionStarted{SessionID: id, UserID: userID, RefreshTokenID: refreshTokenID, ExpiresAt: expiresAt.UTC()}); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadSession folds a session stream.
func LoadSession(events []RecordedEvent) (*Session, error) {
	s := &Session{}
	if err := fold(s, SessionAggregate, events); err != nil {
		return nil, err
	}
	if s.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "session not found")
	}
	return s, nil
}

// Snapshot serialises the session at its loaded version.
func (s *Session) Snapshot() ([]byte, int64, error) { return snapshot(s, sessionSnapshotLayout) }

// RestoreSession loads a session from a snapshot plus later events.
func RestoreSession(snap []byte, version int64, rest []RecordedEvent) (*Session, error) {
	s := &Session{}
	if err := restore(s, SessionAggregate, sessionSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return s, nil
}

func errSessionInvalid() error { return Errorf(EUNAUTHORIZED, "session is not valid") }

// Refresh rotates the refresh token from presentedID to newID. Presenting
// any token but the current one is reuse: the session is revoked, a
// RefreshReuseDetected change is left pending and an EUNAUTHORIZED error is
// returned. The caller must append Changes even then, so the revocation
// sticks (ReuseDetected tells it so).
func (s *Session) Refresh(presentedID, newID string, expiresAt, now time.Time) error {
	if s.state.Revoked || !now.Before(s.state.ExpiresAt) {
		return errSessionInvalid()
	}
	if err := ValidateID("refresh token id", newID); err != nil {
		return err
	}
	if presentedID != s.state.RefreshTokenID {
		if err := record(s, RefreshReuseDetected{TokenID: presentedID}); err != nil {
			return err
		}
		return errSessionInvalid()
	}
	return record(s, SessionRefreshed{PreviousTokenID: presentedID, RefreshTokenID: newID, ExpiresAt: expiresAt.UTC()})
}

// Revoke ends the session; revoking a revoked session records nothing.
func (s *Session) Revoke(reason string) error {
	if s.Version() == 0 {
		return Errorf(ENOTFOUND, "session not found")
	}
	switch reason {
	case RevokeLogout, RevokeUserDeleted, RevokeDisabled, RevokeAdmin, RevokePasswordChanged:
	default:
		return Errorf(EINVALID, "unknown revocation reason")
	}
	if s.state.Revoked {
		return nil
	}
	return record(s, SessionRevoked{Reason: reason})
}

// Active reports whether tokens of this session may be accepted at now.
func (s *Session) Active(now time.Time) bool {
	return s.Version() > 0 && !s.state.Revoked && now.Before(s.state.ExpiresAt)
}

// UserID is the session's user.
func (s *Session) UserID() string { return s.state.UserID }

// RefreshTokenID is the jti of the only refresh token currently valid.
func (s *Session) RefreshTokenID() string { return s.state.RefreshTokenID }

// ExpiresAt is when the session's refresh token expires.
func (s *Session) ExpiresAt() time.Time { return s.state.ExpiresAt }

// Revoked reports whether the session was revoked.
func (s *Session) Revoked() bool { return s.state.Revoked }

// ReuseDetected reports whether a spent refresh token killed the session.
func (s *Session) ReuseDetected() bool { return s.state.ReuseDetected }

// ErrInvalidToken is the one answer to any token or session problem, so a
// caller cannot tell which check failed.
func ErrInvalidToken() error {
	return Errorf(EUNAUTHORIZED, "invalid or expired token")
}

// InvalidTokenUnlessInternal hides why a token's session or user could not
// be found, but lets a database failure through as what it is.
func InvalidTokenUnlessInternal(err error) error {
	switch ErrorCode(err) {
	case ENOTFOUND, EINVALID:
		return ErrInvalidToken()
	}
	return err
}
