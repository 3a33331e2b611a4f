package domain

import (
	"encoding/json"
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

// UserCreated starts a user. The password hash is never in it: schema
// version 2 carries the hash sealed under the user's data key of
// PasswordVersion (outside the log, see the seal package), so deleting the
// user's keys crypto-shreds it. Version 1 carried the hash itself in
// sealed_password_hash; such events still load (LegacyPasswordHash), and
// their hash stays in the log until the user changes password. Fields are
// sealed_*, so RedactForBus keeps them inside Postgres.
type UserCreated struct {
	UserID             string `json:"user_id"`
	Username           string `json:"username"`
	Email              string `json:"email,omitempty"`
	PasswordVersion    int64  `json:"password_version,omitempty"`
	SealedPassword     []byte `json:"sealed_password,omitempty"`
	LegacyPasswordHash string `json:"sealed_password_hash,omitempty"`
}

// UserUpdated replaces the user's profile fields.
type UserUpdated struct {
	Email string `json:"email"`
}

// UserPasswordChanged carries the new hash sealed like UserCreated's (schema
// version 2), or the hash itself (version 1, LegacyPasswordHash).
type UserPasswordChanged struct {
	PasswordVersion    int64  `json:"password_version,omitempty"`
	SealedPassword     []byte `json:"sealed_password,omitempty"`
	LegacyPasswordHash string `json:"sealed_password_hash,omitempty"`
}

// SealedPassword is a password hash sealed under the user's data key of
// Version, with the user id and Version as additional data.
type SealedPassword struct {
	Version int64
	Sealed  []byte
}

// maxSealedPassword bounds a sealed hash (an encoded Argon2id hash is
// about 100 bytes).
const maxSealedPassword = 1024

func checkSealedPassword(p SealedPassword) error {
	if p.Version < 1 {
		return Errorf(EINVALID, "password version must be positive")
	}
	if len(p.Sealed) == 0 || len(p.Sealed) > maxSealedPassword {
		return Errorf(EINVALID, "sealed password is malformed")
	}
	return nil
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

// LoginSucceeded ends the failed-login streak of the address it came from.
// Address is schema version 2's; older events have none.
type LoginSucceeded struct {
	SessionID string    `json:"session_id"`
	At        time.Time `json:"at"`
	Address   string    `json:"address,omitempty"`
}

// LoginFailed never carries the attempted password; Reason is one of the
// LoginFail* constants. Address (schema version 2) is the client address it
// came from, as the lockout counts it (an IPv6 /64 is one address); older
// events have none and count as one unknown address.
type LoginFailed struct {
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	Address string    `json:"address,omitempty"`
}

// Reasons a login fails, as recorded on the user stream (and, for
// LoginFailUnknownUser, on a loginattempt stream).
const (
	LoginFailBadPassword = "bad_password"
	LoginFailDisabled    = "disabled"
	LoginFailLocked      = "locked"
	LoginFailUnknownUser = "unknown_user"
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

type userState struct {
	Username        string `json:"username"`
	Email           string `json:"email,omitempty"`
	PasswordVersion int64  `json:"password_version"`
	SealedPassword  []byte `json:"sealed_password,omitempty"`
	// LegacyPasswordHash is a hash from a schema version 1 event, until
	// the user's next password change.
	LegacyPasswordHash string        `json:"legacy_password_hash,omitempty"`
	RoleIDs            []string      `json:"role_ids"`
	Disabled           bool          `json:"disabled"`
	Deleted            bool          `json:"deleted"`
	Logins             LoginFailures `json:"logins"`
	LastLogin          time.Time     `json:"last_login"`
	// ProfileVersion is the stream version of the last event that changed
	// the profile, which listings show as the last update.
	ProfileVersion int64 `json:"profile_version"`
	// Verification and reset requests (user_email.go).
	emailState
}

// User is the user aggregate (stream user-<id>).
type User struct {
	AggregateRoot
	state userState
}

// userSnapshotLayout changes whenever userState changes shape (2: sealed
// password hashes and per-address login failures, or the profile version;
// 3: both; 4: e-mail verification and reset requests).
const userSnapshotLayout = 4

var userRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[UserCreated](r, EventUserCreated, 2)
	Register[UserUpdated](r, EventUserUpdated, 1)
	Register[UserPasswordChanged](r, EventUserPasswordChanged, 2)
	Register[UserRolesAssigned](r, EventUserRolesAssigned, 1)
	Register[UserDisabled](r, EventUserDisabled, 1)
	Register[UserEnabled](r, EventUserEnabled, 1)
	Register[UserDeleted](r, EventUserDeleted, 1)
	Register[LoginSucceeded](r, EventLoginSucceeded, 2)
	Register[LoginFailed](r, EventLoginFailed, 2)
	registerEmailEvents(r)
	// Every version 1 payload is a valid version 2 payload: the clear hash
	// keeps its field (read as LegacyPasswordHash) and logins have no
	// address. The upcasts only say so.
	for _, t := range []string{EventUserCreated, EventUserPasswordChanged, EventLoginSucceeded, EventLoginFailed} {
		r.Upcast(t, 1, func(data json.RawMessage) (json.RawMessage, error) { return data, nil })
	}
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
		u.state = userState{Username: e.Username, Email: e.Email, RoleIDs: []string{}}
		u.state.setPassword(e.PasswordVersion, e.SealedPassword, e.LegacyPasswordHash)
		u.state.addressSet(u.applyingVersion())
	case UserUpdated:
		u.state.Email = e.Email
		u.state.addressSet(u.applyingVersion())
	case UserPasswordChanged:
		u.state.setPassword(e.PasswordVersion, e.SealedPassword, e.LegacyPasswordHash)
		u.state.Logins.reset()
	case UserRolesAssigned:
		u.state.RoleIDs = slices.Clone(e.RoleIDs)
	case UserDisabled:
		u.state.Disabled = true
	case UserEnabled:
		u.state.Disabled = false
		u.state.Logins.reset()
	case UserDeleted:
		u.state.Deleted = true
	case LoginSucceeded:
		u.state.Logins.recordSuccess(e.Address)
		u.state.LastLogin = e.At
	case LoginFailed:
		u.state.Logins.recordFailure(e.Address, e.Reason, e.At)
	default:
		u.applyEmail(payload)
	}
	switch payload.(type) {
	case UserCreated, UserUpdated, UserPasswordChanged, UserRolesAssigned, UserDisabled, UserEnabled:
		// Logins and the deletion are not changes of the profile.
		u.state.ProfileVersion = u.applyingVersion()
	}
}

func (s *userState) setPassword(version int64, sealed []byte, legacy string) {
	s.PasswordVersion = max(s.PasswordVersion, version)
	s.SealedPassword = slices.Clone(sealed)
	s.LegacyPasswordHash = legacy
}

// NewUser creates a user whose password hash was sealed under the user's
// data key of version password.Version (1 for a new user); the hash and the
// plaintext never reach the domain.
func NewUser(id, username, email string, password SealedPassword) (*User, error) {
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
	if err := checkSealedPassword(password); err != nil {
		return nil, err
	}
	u := &User{}
	u.setStream(UserAggregate, id)
	if err := record(u, UserCreated{
		UserID: id, Username: name, Email: email, PasswordVersion: password.Version, SealedPassword: password.Sealed,
	}); err != nil {
		return nil, err
	}
	return u, nil
}

// FirstPasswordVersion is the password version of a new user.
const FirstPasswordVersion = 1

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

// NextPasswordVersion is the version the next password must be sealed as:
// each version has its own data key, so no two hashes share one.
func (u *User) NextPasswordVersion() int64 { return u.state.PasswordVersion + 1 }

// ChangePassword replaces the password with one sealed as
// NextPasswordVersion.
func (u *User) ChangePassword(password SealedPassword) error {
	if err := u.live(); err != nil {
		return err
	}
	if err := checkSealedPassword(password); err != nil {
		return err
	}
	if password.Version != u.NextPasswordVersion() {
		return Errorf(ECONFLICT, "the password was changed concurrently; retry")
	}
	return record(u, UserPasswordChanged{PasswordVersion: password.Version, SealedPassword: password.Sealed})
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
	if !u.state.Disabled && len(u.state.Logins.Addresses) == 0 && len(u.state.Logins.Recent) == 0 {
		return nil
	}
	return record(u, UserEnabled{})
}

// Delete marks the user deleted. The command layer releases the username in
// the same atomic append (see ReleaseUsername), revokes sessions and then
// deletes the user's data keys.
func (u *User) Delete() error {
	if err := u.live(); err != nil {
		return err
	}
	return record(u, UserDeleted{})
}

// RecordLoginSucceeded notes a successful login from address that started
// sessionID.
func (u *User) RecordLoginSucceeded(sessionID, address string, at time.Time) error {
	if err := u.live(); err != nil {
		return err
	}
	if err := ValidateID("session id", sessionID); err != nil {
		return err
	}
	return record(u, LoginSucceeded{SessionID: sessionID, At: at.UTC(), Address: address})
}

// RecordLoginFailed notes a failed login from address; reason is a
// LoginFail* constant.
func (u *User) RecordLoginFailed(reason, address string, at time.Time) error {
	if err := u.live(); err != nil {
		return err
	}
	switch reason {
	case LoginFailBadPassword, LoginFailDisabled, LoginFailLocked:
	default:
		return Errorf(EINVALID, "unknown login failure reason")
	}
	return record(u, LoginFailed{Reason: reason, At: at.UTC(), Address: address})
}

// LockedUntil is when address may try to log in again; the zero time means
// now (see LoginFailures.LockedUntil).
func (u *User) LockedUntil(p LockoutPolicy, address string, now time.Time) time.Time {
	return u.state.Logins.LockedUntil(p, address, now)
}

// Logins is the user's folded login history.
func (u *User) Logins() LoginFailures { return u.state.Logins }

// Username is the lowercased username.
func (u *User) Username() string { return u.state.Username }

// Email is the e-mail address, possibly empty.
func (u *User) Email() string { return u.state.Email }

// Password is the sealed hash to verify logins against; for a user whose
// password predates sealing, it is empty and LegacyPasswordHash holds the
// hash itself.
func (u *User) Password() SealedPassword {
	return SealedPassword{Version: u.state.PasswordVersion, Sealed: slices.Clone(u.state.SealedPassword)}
}

// LegacyPasswordHash is the clear hash a schema version 1 event left, or "".
func (u *User) LegacyPasswordHash() string { return u.state.LegacyPasswordHash }

// HoldsActively reports whether the user holds roleID and may use it: live
// and not disabled. It is who counts as an admin for RoleMembers.
func (u *User) HoldsActively(roleID string) bool {
	return u.live() == nil && !u.state.Disabled && slices.Contains(u.state.RoleIDs, roleID)
}

// RoleIDs are the user's roles, sorted.
func (u *User) RoleIDs() []string { return slices.Clone(u.state.RoleIDs) }

// Disabled reports whether logins are blocked.
func (u *User) Disabled() bool { return u.state.Disabled }

// Deleted reports whether the user was deleted.
func (u *User) Deleted() bool { return u.state.Deleted }

// LastLogin is when the last successful login happened.
func (u *User) LastLogin() time.Time { return u.state.LastLogin }

// ProfileVersion is the stream version of the last event that changed the
// user's profile (created, updated, password, roles, disabled, enabled):
// what a listing shows as the last update. Logins are not profile changes.
func (u *User) ProfileVersion() int64 { return u.state.ProfileVersion }
