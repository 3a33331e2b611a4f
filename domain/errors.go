// Package domain holds the vault's core types: events, aggregates, access
// decisions and the error vocabulary every layer speaks. It imports only the
// standard library.
package domain

import (
	"errors"
	"fmt"
)

// Error codes. The API maps each code to one HTTP status in a single table, so
// every layer reports failures in these terms instead of transport terms.
const (
	ECONFLICT      = "conflict"      // a concurrent write won, or a unique name is taken
	EINTERNAL      = "internal"      // a bug or an unexpected dependency failure
	EINVALID       = "invalid"       // malformed input
	EUNPROCESSABLE = "unprocessable" // well-formed input that breaks a rule (password policy, size)
	ENOTFOUND      = "not_found"     // the resource does not exist (or the caller may not know it does)
	EUNAUTHORIZED  = "unauthorized"  // no valid credentials
	EFORBIDDEN     = "forbidden"     // credentials valid, action denied
	ETOOLARGE      = "too_large"     // request body over the limit
	ERATELIMIT     = "rate_limited"  // too many attempts
	EUNAVAILABLE   = "unavailable"   // a dependency is down or a bounded wait ran out
	EPRECONDITION  = "precondition"  // an If-Match style check failed
	EGONE          = "gone"          // the resource existed but was destroyed for good
	EUNSUPPORTED   = "unsupported"   // the request body's media type is not one the endpoint accepts
)

// Error is the application error: a code for machines, a message safe to show
// to the caller, and an optional wrapped cause that is only ever logged.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an application error with a caller-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError attaches a code and a caller-safe message to an internal cause.
func WrapError(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first application error in err's chain,
// EINTERNAL for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err. Errors without a code
// get a generic message so internal details never reach a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
