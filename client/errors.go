package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/securevault/vault/domain"
)

// The vault's error codes (domain.Error codes), as its JSON error body
// names them.
const (
	CodeInvalid       = domain.EINVALID
	CodeUnauthorized  = domain.EUNAUTHORIZED
	CodeForbidden     = domain.EFORBIDDEN
	CodeNotFound      = domain.ENOTFOUND
	CodeConflict      = domain.ECONFLICT
	CodeGone          = domain.EGONE
	CodePrecondition  = domain.EPRECONDITION
	CodeTooLarge      = domain.ETOOLARGE
	CodeUnsupported   = domain.EUNSUPPORTED
	CodeUnprocessable = domain.EUNPROCESSABLE
	CodeRateLimit     = domain.ERATELIMIT
	CodeInternal      = domain.EINTERNAL
	CodeUnavailable   = domain.EUNAVAILABLE
)

// Error is a refusal or failure the vault answered (or the transport's,
// with CodeUnavailable and no Status).
type Error struct {
	// Status is the HTTP status; 0 when the vault was not reached.
	Status int
	// Code is the vault's error code (one of the Code constants).
	Code    string
	Message string
	// RequestID quotes the request in the vault's logs.
	RequestID string
	Err       error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s (%s): %v", msg, e.Code, e.Err)
	}
	return fmt.Sprintf("%s (%s)", msg, e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Code returns the vault's error code of err, "" for nil and for errors
// that are not the vault's (a canceled context, say).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is the vault's not_found.
func IsNotFound(err error) bool { return Code(err) == CodeNotFound }

// IsForbidden reports whether err is the vault's forbidden.
func IsForbidden(err error) bool { return Code(err) == CodeForbidden }

// statusCodes is the code of an answer without a vault error body.
var statusCodes = map[int]string{
	http.StatusBadRequest:            CodeInvalid,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             CodeForbidden,
	http.StatusNotFound:              CodeNotFound,
	http.StatusMethodNotAllowed:      CodeInvalid,
	http.StatusConflict:              CodeConflict,
	http.StatusGone:                  CodeGone,
	http.StatusPreconditionFailed:    CodePrecondition,
	http.StatusRequestEntityTooLarge: CodeTooLarge,
	http.StatusUnsupportedMediaType:  CodeUnsupported,
	http.StatusUnprocessableEntity:   CodeUnprocessable,
	http.StatusTooManyRequests:       CodeRateLimit,
	http.StatusServiceUnavailable:    CodeUnavailable,
}

// oauthCodes maps RFC 6749 section 5.2 errors of the token endpoint.
var oauthCodes = map[string]string{
	"invalid_request":        CodeInvalid,
	"invalid_client":         CodeUnauthorized,
	"invalid_grant":          CodeUnauthorized,
	"unauthorized_client":    CodeForbidden,
	"unsupported_grant_type": CodeInvalid,
	"invalid_scope":          CodeInvalid,
}

// decodeError reads the vault's error body: {"error":{"code","message"}},
// or the token endpoint's {"error","error_description"}.
func decodeError(resp *response) error {
	e := &Error{Status: resp.status, RequestID: resp.header.Get("X-Request-Id")}
	var vault struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(resp.body, &vault) == nil && len(vault.Error) > 0 {
		var detail struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		var oauth string
		if json.Unmarshal(vault.Error, &detail) == nil && detail.Code != "" {
			e.Code, e.Message = detail.Code, detail.Message
		} else if json.Unmarshal(vault.Error, &oauth) == nil {
			var desc struct {
				Description string `json:"error_description"`
			}
			_ = json.Unmarshal(resp.body, &desc)
			e.Code, e.Message = oauthCodes[oauth], desc.Description
			if e.Message == "" {
				e.Message = oauth
			}
		}
	}
	if e.Code == "" {
		e.Code = statusCodes[resp.status]
		if e.Code == "" {
			e.Code = CodeInternal
		}
	}
	return e
}
