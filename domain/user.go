package domain

import (
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Aggregate names of the identity streams.
const (
	UserAggregate     = "user"
	SessionAggregate  = "session"
	UsernameAggregate = "username"
)

// User event types.
const (
	EventUserCreated          = "UserCreated"
	EventUserUpdated          = "UserUpdated"
	EventUserPasswordChanged  = "UserPasswordChanged"
	EventUserRolesAssigned    = "UserRolesAssigned"
	EventUserDisabled         = "UserDisabled"
	EventUserEnabled          = "UserEnabled"
	EventUserDeleted          = "UserDeleted"
	EventLoginSucceeded       = "LoginSucceeded"
	EventLoginFailed          = "LoginFailed"
	EventUsernameReserved     = "UsernameReserved"
	EventUsernameReleased     = "UsernameReleased"
	EventSessionStarted       = "SessionStarted"
	EventSessionRefreshed     = "SessionRefreshed"
	EventSessionRevoked       = "SessionRevoked"
	EventRefreshReuseDetected = "RefreshReuseDetected"
)

// UserCreated carries the password hash (never the password): it is what a
// rebuilt user verifies logins against. The field is sealed_*, so
// RedactForBus keeps it inside Postgres.
type UserCreated struct {
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	Email        string `json:"email,omitempty"`
	PasswordHash string `json:"sealed_password_hash"`
}

// UserUpdated replaces the user's profile fields.
type UserUpdated struct {
	Email string `json:"email"`
}

// UserPasswordChanged carries the new hash, never the password; sealed like
// UserCreated's.
type UserPasswordChanged struct {
	PasswordHash string `json:"sealed_password_hash"`
}

// UserRolesAssigned replaces the user's role set.
type UserRolesAssigned struct {
	RoleIDs []string `json:"role_ids"`
}

// UserDisabled blocks logins and, in the command layer, revokes sessions.
type UserDisabled struct{}

// UserEnabled lifts UserDisabled and any login lockout.
type UserEnabled struct{}

// UserDeleted is final: a deleted user takes no further commands.
type UserDeleted struct{}

// LoginSucceeded resets the failed-login streak.
type LoginSucceeded struct {
	SessionID string    `json:"session_id"`
	At        time.Time `json:"at"`
}

// LoginFailed never carries the attempted password; Reason is one of the
// LoginFail* constants.
type LoginFailed struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Reasons a login fails, as recorded on the user stream.
const (
	LoginFailBadPassword = "bad_password"
	LoginFailDisabled    = "disabled"
	LoginFailLocked      = "locked"
)

// UsernameReserved claims a username for a user; the reservation stream is
// appended with the user's first event in one atomic append, so two users can
// never hold one name.
type UsernameReserved struct {
	UserID string `json:"user_id"`
}

// UsernameReleased frees a username when its user is deleted.
type UsernameReleased struct {
	UserID string `json:"user_id"`
}

// Username rules.
const (
	UsernameMinLength = 3
	UsernameMaxLength = 64
)

// NormalizeUsername lowercases name and checks the username rules: 3–64
// characters of [a-z0-9._-], compared case-insensitively.
func NormalizeUsername(name string) (string, error) {
	n := FoldName(name)
	if len(n) < UsernameMinLength || len(n) > UsernameMaxLength {
		return "", Errorf(EINVALID, "username must be %d to %d characters long", UsernameMinLength, UsernameMaxLength)
	}
	if !validNameChars(n) {
		return "", Errorf(EINVALID, "username may contain only letters, digits, '.', '_' and '-'")
	}
	return n, nil
}

func validNameChars(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// UsernameReservationStream is the stream that reserves a username.
func UsernameReservationStream(name string) string {
	return StreamID(UsernameAggregate, strings.ToLower(name))
}

func normalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", nil
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || len(email) > 254 {
		return "", Errorf(EINVALID, "email is not a valid address")
	}
	return email, nil
}

// PasswordPolicy is what a new password must satisfy.
type PasswordPolicy struct {
	// MinLength counts characters, not bytes.
	MinLength int
	// MaxLength bounds the work one hash costs.
	MaxLength int
}

// DefaultPasswordPolicy follows NIST SP 800-63B: length over composition.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: 12, MaxLength: 1024}
}

// Check returns an EUNPROCESSABLE error explaining the first rule the
// password breaks. The message never quotes the password.
func (p PasswordPolicy) Check(username, password string) error {
	if p.MinLength <= 0 {
		p.MinLength = DefaultPasswordPolicy().MinLength
	}
	if p.MaxLength <= 0 {
		p.MaxLength = DefaultPasswordPolicy().MaxLength
	}
	if !utf8.ValidString(password) {
		return Errorf(EUNPROCESSABLE, "password must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(password)
	if n < p.MinLength {
		return Errorf(EUNPROCESSABLE, "password must be at least %d characters long", p.MinLength)
	}
	if n > p.MaxLength {
		return Errorf(EUNPROCESSABLE, "password must be at most %d characters long", p.MaxLength)
	}
	if username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
		return Errorf(EUNPROCESSABLE, "password must not contain the username")
	}
	return nil
}

// LockoutPolicy makes repeated login failures lock an account for a growing
// interval: Base after Threshold consecutive failures, doubling with each
// further failure, capped at Max.
type LockoutPolicy struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
}

// DefaultLockoutPolicy locks after 5 failures for 1 minute, up to 1 hour.
func DefaultLockoutPolicy() LockoutPolicy {
	return LockoutPolicy{Threshold: 5, Base: time.Minute, Max: time.Hour}
}

type userState struct {
	Username     string    `json:"username"`
	Email        string    `json:"email,omitempty"`
	PasswordHash string    `json:"password_hash"`
	RoleIDs      []string  `json:"role_ids"`
	Disabled     bool      `json:"disabled"`
	Deleted      bool      `json:"deleted"`
	FailedLogins int       `json:"failed_logins"`
	LastFailure  time.Time `json:"last_failure"`
	LastLogin    time.Time `json:"last_login"`
	// ProfileVersion is the stream version of the last event that changed
	// the profile, which listings show as the last update.
	ProfileVersion int64 `json:"profile_version"`
}

// User is the user aggregate (stream user-<id>).
type User struct {
	AggregateRoot
	state userState
}

// userSnapshotLayout changes whenever userState changes shape.
const userSnapshotLayout = 2

var userRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[UserCreated](r, EventUserCreated, 1)
	Register[UserUpdated](r, EventUserUpdated, 1)
	Register[UserPasswordChanged](r, EventUserPasswordChanged, 1)
	Register[UserRolesAssigned](r, EventUserRolesAssigned, 1)
	Register[UserDisabled](r, EventUserDisabled, 1)
	Register[UserEnabled](r, EventUserEnabled, 1)
	Register[UserDeleted](r, EventUserDeleted, 1)
	Register[LoginSucceeded](r, EventLoginSucceeded, 1)
	Register[LoginFailed](r, EventLoginFailed, 1)
	return r
})

// UserEvents is the registry of user stream events (for the event store's
// upcasters and for consumers that decode them).
func UserEvents() *Registry { return userRegistry() }

func (u *User) registry() *Registry { return userRegistry() }
func (u *User) snapshotState() any  { return &u.state }

func (u *User) apply(payload any) {
	switch e := payload.(type) {
	case UserCreated:
		u.state = userState{Username: e.Username, Email: e.Email, PasswordHash: e.PasswordHash, RoleIDs: []string{}}
	case UserUpdated:
		u.state.Email = e.Email
	case UserPasswordChanged:
		u.state.PasswordHash = e.PasswordHash
		u.state.FailedLogins = 0
	case UserRolesAssigned:
		u.state.RoleIDs = slices.Clone(e.RoleIDs)
	case UserDisabled:
		u.state.Disabled = true
	case UserEnabled:
		u.state.Disabled = false
		u.state.FailedLogins = 0
	case UserDeleted:
		u.state.Deleted = true
	case LoginSucceeded:
		u.state.FailedLogins = 0
		u.state.LastLogin = e.At
	case LoginFailed:
		u.state.FailedLogins++
		u.state.LastFailure = e.At
	}
	switch payload.(type) {
	case UserCreated, UserUpdated, UserPasswordChanged, UserRolesAssigned, UserDisabled, UserEnabled:
		// Logins and the deletion are not changes of the profile.
		u.state.ProfileVersion = u.applyingVersion()
	}
}

// NewUser creates a user. passwordHash must come from the password package;
// the plaintext never reaches the domain.
func NewUser(id, username, email, passwordHash string) (*User, error) {
	if err := ValidateID("user id", id); err != nil {
		return nil, err
	}
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	email, err = normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := checkHash(passwordHash); err != nil {
		return nil, err
	}
	u := &User{}
	u.setStream(UserAggregate, id)
	if err := record(u, UserCreated{UserID: id, Username: name, Email: email, PasswordHash: passwordHash}); err != nil {
		return nil, err
	}
	return u, nil
}

func checkHash(h string) error {
	if h == "" || len(h) > 512 || strings.ContainsAny(h, " \n") {
		return Errorf(EINVALID, "password hash is malformed")
	}
	return nil
}

// LoadUser folds a user stream.
func LoadUser(events []RecordedEvent) (*User, error) {
	u := &User{}
	if err := fold(u, UserAggregate, events); err != nil {
		return nil, err
	}
	if u.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "user not found")
	}
	return u, nil
}

// RestoreUser loads a user from a snapshot plus the events after it.
func RestoreUser(snap []byte, version int64, rest []RecordedEvent) (*User, error) {
	u := &User{}
	if err := restore(u, UserAggregate, userSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return u, nil
}

// Snapshot serialises the user at its loaded version.
func (u *User) Snapshot() ([]byte, int64, error) { return snapshot(u, userSnapshotLayout) }

func (u *User) live() error {
	if u.Version() == 0 || u.state.Deleted {
		return Errorf(ENOTFOUND, "user not found")
	}
	return nil
}

// UpdateEmail changes the e-mail address; an unchanged address records nothing.
func (u *User) UpdateEmail(email string) error {
	if err := u.live(); err != nil {
		return err
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	if email == u.state.Email {
		return nil
	}
	return record(u, UserUpdated{Email: email})
}

// ChangePassword replaces the password hash.
func (u *User) ChangePassword(passwordHash string) error {
	if err := u.live(); err != nil {
		return err
	}
	if err := checkHash(passwordHash); err != nil {
		return err
	}
	return record(u, UserPasswordChanged{PasswordHash: passwordHash})
}

// AssignRoles replaces the user's roles. Whether each role exists is the
// command layer's check; here ids must be well-formed and are deduplicated.
func (u *User) AssignRoles(roleIDs []string) error {
	if err := u.live(); err != nil {
		return err
	}
	ids, err := normalizeIDs("role id", roleIDs)
	if err != nil {
		return err
	}
	if slices.Equal(ids, u.state.RoleIDs) {
		return nil
	}
	return record(u, UserRolesAssigned{RoleIDs: ids})
}

func normalizeIDs(field string, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := ValidateID(field, id); err != nil {
			return nil, err
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Disable blocks the user's logins.
func (u *User) Disable() error {
	if err := u.live(); err != nil {
		return err
	}
	if u.state.Disabled {
		return nil
	}
	return record(u, UserDisabled{})
}

// Enable lifts Disable and any lockout.
func (u *User) Enable() error {
	if err := u.live(); err != nil {
		return err
	}
	if !u.state.Disabled && u.state.FailedLogins == 0 {
		return nil
	}
	return record(u, UserEnabled{})
}

// Delete marks the user deleted. The command layer releases the username in
// the same atomic append (see ReleaseUsername) and revokes sessions.
func (u *User) Delete() error {
	if err := u.live(); err != nil {
		return err
	}
	return record(u, UserDeleted{})
}

// RecordLoginSucceeded notes a successful login that started sessionID.
func (u *User) RecordLoginSucceeded(sessionID string, at time.Time) error {
	if err := u.live(); err != nil {
		return err
	}
	if err := ValidateID("session id", sessionID); err != nil {
		return err
	}
	return record(u, LoginSucceeded{SessionID: sessionID, At: at.UTC()})
}

// RecordLoginFailed notes a failed login; reason is a LoginFail* constant.
func (u *User) RecordLoginFailed(reason string, at time.Time) error {
	if err := u.live(); err != nil {
		return err
	}
	switch reason {
	case LoginFailBadPassword, LoginFailDisabled, LoginFailLocked:
	default:
		return Errorf(EINVALID, "unknown login failure reason")
	}
	return record(u, LoginFailed{Reason: reason, At: at.UTC()})
}

// LockedUntil is when the current failure streak stops locking the account;
// the zero time means not locked by p.
func (u *User) LockedUntil(p LockoutPolicy) time.Time {
	if p.Threshold <= 0 || u.state.FailedLogins < p.Threshold {
		return time.Time{}
	}
	d := p.Base
	for i := p.Threshold; i < u.state.FailedLogins && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return u.state.LastFailure.Add(d)
}

// Username is the lowercased username.
func (u *User) Username() string { return u.state.Username }

// Email is the e-mail address, possibly empty.
func (u *User) Email() string { return u.state.Email }

// PasswordHash is the encoded Argon2id hash to verify logins against.
func (u *User) PasswordHash() string { return u.state.PasswordHash }

// RoleIDs are the user's roles, sorted.
func (u *User) RoleIDs() []string { return slices.Clone(u.state.RoleIDs) }

// Disabled reports whether logins are blocked.
func (u *User) Disabled() bool { return u.state.Disabled }

// Deleted reports whether the user was deleted.
func (u *User) Deleted() bool { return u.state.Deleted }

// FailedLogins is the current streak of failed logins.
func (u *User) FailedLogins() int { return u.state.FailedLogins }

// LastLogin is when the last successful login happened.
func (u *User) LastLogin() time.Time { return u.state.LastLogin }

// ProfileVersion is the stream version of the last event that changed the
// user's profile (created, updated, password, roles, disabled, enabled):
// what a listing shows as the last update. Logins are not profile changes.
func (u *User) ProfileVersion() int64 { return u.state.ProfileVersion }

// Reservation is a name-reservation stream (username-<name>,
// rolename-<name>, policyname-<name>). A name is free when its stream does
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
	case UsernameReleased, RoleNameReleased, PolicyNameReleased:
		r.state.Owner = ""
	}
}

func isReservationAggregate(agg string) bool {
	return agg == UsernameAggregate || agg == RoleNameAggregate || agg == PolicyNameAggregate
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
	default:
		return record(r, PolicyNameReleased{PolicyID: ownerID})
	}
}

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
