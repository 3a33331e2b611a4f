package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Account e-mail: verification of a user's address and password reset by
// mail. The events below record what was asked and what was proven; the
// tokens that prove it never enter an event (see EmailToken).

// User stream events of account e-mail.
const (
	EventEmailVerified          = "EmailVerified"
	EventPasswordResetRequested = "PasswordResetRequested"
	EventPasswordResetCompleted = "PasswordResetCompleted"
	// EventEmailVerificationRequested asks for another verification mail
	// (the first one was lost, or its link expired).
	EventEmailVerificationRequested = "EmailVerificationRequested"
)

// Events outside the user stream.
const (
	// EventPasswordResetUnmatched is a forgot-password request for an
	// address no live user has (or one over its limit), recorded on the
	// address's resetattempt stream so the request does the same work, and
	// leaves the same trace, as one that matched.
	EventPasswordResetUnmatched = "PasswordResetUnmatched"
	// EventEmailVerificationUnmatched is the same for a request to resend
	// a verification mail: nobody has the address unverified (or every
	// account that has it is over its limit).
	EventEmailVerificationUnmatched = "EmailVerificationUnmatched"
	// EventMailDeadLettered records a mail given up on after its last
	// attempt, on the mail stream of the event that asked for it.
	EventMailDeadLettered = "MailDeadLettered"
)

// Aggregates of the streams above.
const (
	ResetAttemptAggregate = "resetattempt"
	MailAggregate         = "mail"
)

// EmailVerified records that the holder of the user's address followed the
// link of a verification mail (or of a reset mail) sent to Email.
type EmailVerified struct {
	Email string `json:"email"`
}

// PasswordResetRequested asks for a reset mail. PasswordVersion is the
// password it may replace: the mail consumer drops a request whose password
// has changed since, and the token it mints dies with that version.
type PasswordResetRequested struct {
	PasswordVersion int64     `json:"password_version"`
	At              time.Time `json:"at"`
}

// EmailVerificationRequested asks for another verification mail to Email,
// the address the event at stream version EmailVersion set: the mail
// consumer drops the request once the address changed since (or was
// verified), and the token it mints is bound to that address as the
// first mail's was.
type EmailVerificationRequested struct {
	Email        string    `json:"email"`
	EmailVersion int64     `json:"email_version"`
	At           time.Time `json:"at"`
}

// EmailVerificationUnmatched: see EventEmailVerificationUnmatched.
type EmailVerificationUnmatched struct {
	At time.Time `json:"at"`
}

// PasswordResetCompleted marks the UserPasswordChanged appended with it as
// the outcome of a reset link, so an auditor tells a reset from a change.
type PasswordResetCompleted struct{}

// PasswordResetUnmatched: see EventPasswordResetUnmatched.
type PasswordResetUnmatched struct {
	At time.Time `json:"at"`
}

// MailDeadLettered is a mail that was never sent. Reason is the last
// failure as the provider put it (scrubbed of the link).
type MailDeadLettered struct {
	SourceEventID string `json:"source_event_id"`
	SourceType    string `json:"source_type"`
	UserID        string `json:"user_id"`
	Purpose       string `json:"purpose"`
	Attempts      int    `json:"attempts"`
	Reason        string `json:"reason"`
}

// ResetRequestsKept bounds how many reset requests (and, apart, how many
// verification requests) a user's state keeps for the per-account limit.
const ResetRequestsKept = 32

// emailState is the part of userState account e-mail owns.
type emailState struct {
	EmailVerified bool `json:"email_verified,omitempty"`
	// EmailVersion is the stream version of the event that set the current
	// address: a verification token names it, so changing the address away
	// and back does not revive an old token.
	EmailVersion         int64       `json:"email_version,omitempty"`
	ResetRequests        []time.Time `json:"reset_requests,omitempty"`
	VerificationRequests []time.Time `json:"verification_requests,omitempty"`
}

func (s *emailState) addressSet(version int64) {
	s.EmailVerified, s.EmailVersion = false, version
}

// applyEmail applies the account e-mail events (called by User.apply).
func (u *User) applyEmail(payload any) {
	switch e := payload.(type) {
	case EmailVerified:
		if e.Email == u.state.Email {
			u.state.EmailVerified = true
		}
	case PasswordResetRequested:
		u.state.ResetRequests = keepRequest(u.state.ResetRequests, e.At)
	case EmailVerificationRequested:
		u.state.VerificationRequests = keepRequest(u.state.VerificationRequests, e.At)
	}
}

// keepRequest adds a request's time to those kept, the newest
// ResetRequestsKept.
func keepRequest(kept []time.Time, at time.Time) []time.Time {
	r := append(kept, at)
	if len(r) > ResetRequestsKept {
		r = r[len(r)-ResetRequestsKept:]
	}
	return r
}

// requestsSince counts the requests recorded after since.
func requestsSince(kept []time.Time, since time.Time) int {
	n := 0
	for _, at := range kept {
		if at.After(since) {
			n++
		}
	}
	return n
}

func registerEmailEvents(r *Registry) {
	Register[EmailVerified](r, EventEmailVerified, 1)
	Register[PasswordResetRequested](r, EventPasswordResetRequested, 1)
	Register[PasswordResetCompleted](r, EventPasswordResetCompleted, 1)
	Register[EmailVerificationRequested](r, EventEmailVerificationRequested, 1)
}

var resetAttemptRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[PasswordResetUnmatched](r, EventPasswordResetUnmatched, 1)
	Register[EmailVerificationUnmatched](r, EventEmailVerificationUnmatched, 1)
	return r
})

var mailRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[MailDeadLettered](r, EventMailDeadLettered, 1)
	return r
})

// EmailVerified reports whether the current address was verified.
func (u *User) EmailVerified() bool { return u.state.EmailVerified }

// EmailVersion is the stream version of the event that set the address.
func (u *User) EmailVersion() int64 { return u.state.EmailVersion }

// VerifyEmail records that email, the user's current address, is proven.
// Verifying an address already verified records nothing.
func (u *User) VerifyEmail(email string) error {
	if err := u.live(); err != nil {
		return err
	}
	if u.state.Email == "" || !strings.EqualFold(email, u.state.Email) {
		return Errorf(EINVALID, "the token is invalid, expired or already used")
	}
	if u.state.EmailVerified {
		return nil
	}
	return record(u, EmailVerified{Email: u.state.Email})
}

// ResetRequestsSince counts the reset requests recorded after since.
func (u *User) ResetRequestsSince(since time.Time) int {
	return requestsSince(u.state.ResetRequests, since)
}

// VerificationRequestsSince counts the requests to resend a verification
// mail recorded after since.
func (u *User) VerificationRequestsSince(since time.Time) int {
	return requestsSince(u.state.VerificationRequests, since)
}

// RequestEmailVerification records a request for another verification
// mail, for a live, enabled user whose address is not verified yet.
func (u *User) RequestEmailVerification(at time.Time) error {
	if err := u.live(); err != nil {
		return err
	}
	if u.state.Disabled || u.state.Email == "" || u.state.EmailVerified {
		return Errorf(EUNPROCESSABLE, "the user has no address waiting for verification")
	}
	return record(u, EmailVerificationRequested{Email: u.state.Email, EmailVersion: u.state.EmailVersion, At: at.UTC()})
}

// RequestPasswordReset records a reset request of a live, enabled user
// with an address.
func (u *User) RequestPasswordReset(at time.Time) error {
	if err := u.live(); err != nil {
		return err
	}
	if u.state.Disabled || u.state.Email == "" {
		return Errorf(EUNPROCESSABLE, "the user cannot reset a password by mail")
	}
	return record(u, PasswordResetRequested{PasswordVersion: u.state.PasswordVersion, At: at.UTC()})
}

// CompletePasswordReset marks the password change recorded with it as a
// reset. Following the link also proves the address.
func (u *User) CompletePasswordReset() error {
	if err := u.live(); err != nil {
		return err
	}
	if err := record(u, PasswordResetCompleted{}); err != nil {
		return err
	}
	return u.VerifyEmail(u.state.Email)
}

// ResetAttemptStream is the stream of unmatched account-mail requests
// (forgot-password, resend-verification) for an address, keyed by a hash
// so any input makes a valid stream id.
func ResetAttemptStream(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return StreamID(ResetAttemptAggregate, hex.EncodeToString(sum[:]))
}

// NewPasswordResetUnmatched is the event a resetattempt stream records.
func NewPasswordResetUnmatched(at time.Time, md Metadata) NewEvent {
	return resetAttemptRegistry().newEvent(PasswordResetUnmatched{At: at.UTC()}, md)
}

// NewEmailVerificationUnmatched is the event a resetattempt stream records
// for an unmatched request to resend a verification mail.
func NewEmailVerificationUnmatched(at time.Time, md Metadata) NewEvent {
	return resetAttemptRegistry().newEvent(EmailVerificationUnmatched{At: at.UTC()}, md)
}

// MailStream is the stream of what happened to the mail an event asked for.
func MailStream(sourceEventID string) string { return StreamID(MailAggregate, sourceEventID) }

// NewMailDeadLettered is the event a mail stream records when a mail is
// given up on.
func NewMailDeadLettered(d MailDeadLettered, md Metadata) NewEvent {
	return mailRegistry().newEvent(d, md)
}

// NormalizeEmail trims and checks an e-mail address (empty is allowed).
func NormalizeEmail(email string) (string, error) { return normalizeEmail(email) }

// Purposes of e-mail tokens.
const (
	TokenPurposeVerifyEmail   = "verify_email"
	TokenPurposeResetPassword = "reset_password"
)

// EmailTokenBytes is the entropy of an e-mail token.
const EmailTokenBytes = 32

// EmailToken is a freshly minted token: Raw goes into the link of one mail
// and nowhere else; Lookup and Binding are what is stored.
//
// Lookup = SHA-256("lookup" ‖ token) finds the row. Binding = SHA-256 of
// the purpose, the user id, the user's state the token may act on (for a
// reset: the password version and the address; for a verification: the
// address and the version of the event that set it) and the token. A
// redeemer recomputes Binding from the user as it is now and compares in
// constant time, so a reset token dies the moment the password changes any
// other way, and a verification token when the address changes.
type EmailToken struct {
	Raw     string
	Lookup  []byte
	Binding []byte
}

// errBadToken is the one answer to every unusable token: malformed,
// unknown, expired, used, or bound to a state that is gone.
func errBadToken() error {
	return Errorf(EINVALID, "the token is invalid, expired or already used")
}

// ErrBadEmailToken is errBadToken for the command layer.
func ErrBadEmailToken() error { return errBadToken() }

// NewEmailToken mints a token for purpose, bound to u's current state.
func NewEmailToken(purpose string, u *User) (EmailToken, error) {
	var b [EmailTokenBytes]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+): it crashes instead
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	binding, err := EmailTokenBinding(purpose, u, raw)
	if err != nil {
		return EmailToken{}, err
	}
	lookup, _ := EmailTokenLookup(raw)
	return EmailToken{Raw: raw, Lookup: lookup, Binding: binding}, nil
}

func decodeEmailToken(raw string) ([]byte, error) {
	if len(raw) != base64.RawURLEncoding.EncodedLen(EmailTokenBytes) {
		return nil, errBadToken()
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != EmailTokenBytes {
		return nil, errBadToken()
	}
	return b, nil
}

// EmailTokenLookup is the stored key of a presented token.
func EmailTokenLookup(raw string) ([]byte, error) {
	b, err := decodeEmailToken(raw)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte("securevault/email-token/v1/lookup\x00"))
	h.Write(b)
	return h.Sum(nil), nil
}

// EmailTokenBinding is the hash binding raw to purpose and u's state now.
func EmailTokenBinding(purpose string, u *User, raw string) ([]byte, error) {
	b, err := decodeEmailToken(raw)
	if err != nil {
		return nil, err
	}
	var state string
	switch purpose {
	case TokenPurposeVerifyEmail:
		state = strconv.FormatInt(u.state.EmailVersion, 10) + "\x00" + strings.ToLower(u.state.Email)
	case TokenPurposeResetPassword:
		state = strconv.FormatInt(u.state.PasswordVersion, 10) + "\x00" + strings.ToLower(u.state.Email)
	default:
		return nil, Errorf(EINVALID, "unknown token purpose")
	}
	h := sha256.New()
	for _, part := range []string{"securevault/email-token/v1/binding", purpose, u.ID(), state} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(b)
	return h.Sum(nil), nil
}

// EmailTokenRecord is a stored token as the store returns it.
type EmailTokenRecord struct {
	Purpose   string
	UserID    string
	Binding   []byte
	ExpiresAt time.Time
	Used      bool
}

// CheckEmailToken decides whether raw, stored as rec, may act on u for
// purpose at now: the right purpose and user, unused, unexpired, and bound
// to u's present state (compared in constant time).
func CheckEmailToken(rec EmailTokenRecord, purpose string, u *User, raw string, now time.Time) error {
	if rec.Purpose != purpose || rec.UserID != u.ID() || rec.Used || !now.Before(rec.ExpiresAt) {
		return errBadToken()
	}
	if u.live() != nil || u.state.Disabled || u.state.Email == "" {
		return errBadToken()
	}
	want, err := EmailTokenBinding(purpose, u, raw)
	if err != nil {
		return errBadToken()
	}
	if subtle.ConstantTimeCompare(want, rec.Binding) != 1 {
		return errBadToken()
	}
	return nil
}
