package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/domain"
)

// errorStatus is the single mapping from the domain's error codes to HTTP.
// A code missing here is a bug and is answered as an internal error.
var errorStatus = map[string]int{
	domain.EINVALID:       http.StatusBadRequest,
	domain.EUNAUTHORIZED:  http.StatusUnauthorized,
	domain.EFORBIDDEN:     http.StatusForbidden,
	domain.ENOTFOUND:      http.StatusNotFound,
	domain.ECONFLICT:      http.StatusConflict,
	domain.EGONE:          http.StatusGone,
	domain.EPRECONDITION:  http.StatusPreconditionFailed,
	domain.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	domain.EUNSUPPORTED:   http.StatusUnsupportedMediaType,
	domain.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	domain.ERATELIMIT:     http.StatusTooManyRequests,
	domain.EINTERNAL:      http.StatusInternalServerError,
	domain.EUNAVAILABLE:   http.StatusServiceUnavailable,
}

// codeMethodNotAllowed is a transport-level code with no domain meaning: no
// command or query can fail with it, so it stays out of domain's vocabulary.
const codeMethodNotAllowed = "method_not_allowed"

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusFor returns the HTTP status and the code to show for err.
func statusFor(err error) (int, string) {
	code := domain.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		return http.StatusInternalServerError, domain.EINTERNAL
	}
	return status, code
}

// writeError answers err as the JSON error envelope. Only messages the domain
// marked caller-safe are shown; internal failures are logged with the request
// id and answered generically, so no SQL, path or stack reaches a client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	status, code := statusFor(err)
	message := domain.ErrorMessage(err)
	reqID := RequestIDFrom(ctx)

	var derr *domain.Error
	switch {
	case ctx.Err() != nil || (!errors.As(err, &derr) && errors.Is(err, context.Canceled)):
		// The client went away; nobody reads the answer and it is no fault.
		status, code, message = http.StatusServiceUnavailable, domain.EUNAVAILABLE, "request canceled"
		s.logger.DebugContext(ctx, "request canceled", "request_id", reqID)
	case !errors.As(err, &derr) && errors.Is(err, context.DeadlineExceeded):
		status, code, message = http.StatusServiceUnavailable, domain.EUNAVAILABLE, "the request timed out; retry later"
		s.logger.WarnContext(ctx, "request timed out", "request_id", reqID, "error", err)
	case code == domain.EINTERNAL:
		message = "internal error; quote request id " + reqID + " when reporting it"
		s.logger.ErrorContext(ctx, "internal error", "request_id", reqID, "error", err)
	case status >= http.StatusInternalServerError:
		s.logger.WarnContext(ctx, "dependency unavailable", "request_id", reqID, "error", err)
	}
	if status == http.StatusUnauthorized {
		// Every 401 names the scheme that would work (RFC 9110 15.5.2),
		// whichever handler refused: the secret endpoints and the login too.
		w.Header().Set("WWW-Authenticate", bearerChallenge)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// bearerChallenge is the WWW-Authenticate challenge of every 401.
const bearerChallenge = `Bearer realm="securevault"` //nolint:gosec // G101: an HTTP auth scheme name, not a credential

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, domain.Errorf(domain.ENOTFOUND, "no such endpoint"))
}

// methodNotAllowed answers 405 with the Allow header RFC 9110 requires,
// found by asking the router which methods would have matched the path.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		probe := r.Clone(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
		Code:    codeMethodNotAllowed,
		Message: "method " + r.Method + " is not allowed here",
	}})
}
