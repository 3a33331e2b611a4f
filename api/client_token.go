package api

import (
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// The token endpoint: RFC 6749 section 4.4, the client-credentials grant.
// It answers in OAuth's vocabulary (section 5.1 and 5.2), not the vault's
// error envelope, so any OAuth client library understands it.

// OAuth error codes of section 5.2 (and temporarily_unavailable, for the
// rate limit and a store that is down).
const (
	oauthInvalidRequest       = "invalid_request"
	oauthInvalidClient        = "invalid_client"
	oauthUnsupportedGrantType = "unsupported_grant_type"
	oauthServerError          = "server_error"
	oauthUnavailable          = "temporarily_unavailable"
	grantClientCredentials    = "client_credentials"
)

// maxTokenRequestBytes bounds a token request body: a client id, a
// secret and a grant type fit in far less.
const maxTokenRequestBytes = 8 << 10

// basicChallenge is the WWW-Authenticate challenge of an invalid_client.
const basicChallenge = `Basic realm="securevault", charset="UTF-8"`

// tokenRequest is the JSON form of a token request.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
}

// clientTokenResponse is section 5.1's answer: no refresh token.
type clientTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// ClientTokenDeps are what the token endpoint needs.
type ClientTokenDeps struct {
	Commands *commands.Identity
}

// MountClientToken registers POST /api/v1/auth/token.
func (s *Server) MountClientToken(deps ClientTokenDeps) {
	s.handle(http.MethodPost, "/api/v1/auth/token", func(w http.ResponseWriter, r *http.Request) {
		s.clientToken(w, r, deps.Commands)
	})
}

func (s *Server) clientToken(w http.ResponseWriter, r *http.Request, cmds *commands.Identity) {
	// Every answer of the token endpoint, errors too (section 5.1, 5.2).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	req, err := readTokenRequest(r, w)
	if err != nil {
		status := http.StatusBadRequest
		switch domain.ErrorCode(err) {
		case domain.EUNSUPPORTED:
			status = http.StatusUnsupportedMediaType
		case domain.ETOOLARGE:
			status = http.StatusRequestEntityTooLarge
		}
		writeOAuth(w, status, oauthInvalidRequest, domain.ErrorMessage(err))
		return
	}
	id, secret, err := clientAuthentication(r, req)
	if err != nil {
		code, status := oauthInvalidRequest, http.StatusBadRequest
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			code, status = oauthInvalidClient, http.StatusUnauthorized
		}
		writeTokenError(w, status, code, domain.ErrorMessage(err))
		return
	}
	switch req.GrantType {
	case grantClientCredentials:
	case "":
		writeOAuth(w, http.StatusBadRequest, oauthInvalidRequest, "grant_type is required")
		return
	default:
		writeOAuth(w, http.StatusBadRequest, oauthUnsupportedGrantType, "only grant_type=client_credentials is supported here")
		return
	}
	tok, err := cmds.ClientCredentialsToken(r.Context(), CallerFrom(r, domain.Principal{}), id, secret)
	if err != nil {
		s.writeGrantError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientTokenResponse{
		AccessToken: tok.Access.Value, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn.Seconds()),
	})
}

// readTokenRequest reads a form-encoded (RFC 6749's) or JSON body. Every
// parameter may appear once (section 3.2). Another media type is
// EUNSUPPORTED (415), a body over the limit ETOOLARGE (413), as on every
// other endpoint.
func readTokenRequest(r *http.Request, w http.ResponseWriter) (tokenRequest, error) {
	unsupported := domain.Errorf(domain.EUNSUPPORTED, "Content-Type must be application/x-www-form-urlencoded or application/json")
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return tokenRequest{}, unsupported
	}
	switch mediaType {
	case "application/json":
		var req tokenRequest
		if err := decodeJSONLimit(w, r, &req, maxTokenRequestBytes); err != nil {
			return tokenRequest{}, err
		}
		return req, nil
	case "application/x-www-form-urlencoded":
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return tokenRequest{}, domain.Errorf(domain.EUNSUPPORTED, "request body must be UTF-8 encoded")
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return tokenRequest{}, domain.Errorf(domain.ETOOLARGE, "the request body is larger than %d bytes", maxTokenRequestBytes)
		}
		if err != nil {
			return tokenRequest{}, domain.Errorf(domain.EINVALID, "the request body is unreadable")
		}
		if !utf8.Valid(body) {
			return tokenRequest{}, domain.Errorf(domain.EINVALID, "the request body is not valid UTF-8")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return tokenRequest{}, domain.Errorf(domain.EINVALID, "the request body is not valid form encoding")
		}
		var req tokenRequest
		fields := map[string]*string{
			"grant_type": &req.GrantType, "client_id": &req.ClientID, "client_secret": &req.ClientSecret, "scope": &req.Scope,
		}
		for k, v := range form {
			dst, ok := fields[k]
			if !ok {
				continue // section 3.2: unknown parameters are ignored
			}
			if len(v) > 1 {
				return tokenRequest{}, domain.Errorf(domain.EINVALID, "%s is given more than once", k)
			}
			if !utf8.ValidString(v[0]) {
				return tokenRequest{}, domain.Errorf(domain.EINVALID, "%s is not valid UTF-8", k)
			}
			*dst = v[0]
		}
		return req, nil
	}
	return tokenRequest{}, unsupported
}

// clientAuthentication finds the client id and secret: HTTP Basic with
// both form-urlencoded (section 2.3.1), or the body's client_id and
// client_secret; never both.
func clientAuthentication(r *http.Request, req tokenRequest) (id, secret string, err error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		if req.ClientID == "" || req.ClientSecret == "" {
			return "", "", domain.Errorf(domain.EUNAUTHORIZED, "client authentication is required: HTTP Basic, or client_id and client_secret in the body")
		}
		return req.ClientID, req.ClientSecret, nil
	}
	if len(values) > 1 || len(values[0]) > maxAuthorizationHeader {
		return "", "", domain.Errorf(domain.EUNAUTHORIZED, "invalid Authorization header")
	}
	if req.ClientID != "" || req.ClientSecret != "" {
		return "", "", domain.Errorf(domain.EINVALID, "use one client authentication method: HTTP Basic or the body, not both")
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", "", domain.Errorf(domain.EUNAUTHORIZED, "the Authorization scheme must be Basic")
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil || id == "" || secret == "" {
		return "", "", domain.Errorf(domain.EUNAUTHORIZED, "the Basic credentials are malformed")
	}
	return id, secret, nil
}

// writeGrantError maps the grant's errors onto OAuth's.
func (s *Server) writeGrantError(w http.ResponseWriter, r *http.Request, err error) {
	switch domain.ErrorCode(err) {
	case domain.EUNAUTHORIZED:
		writeTokenError(w, http.StatusUnauthorized, oauthInvalidClient, domain.ErrorMessage(err))
	case domain.EINVALID:
		writeOAuth(w, http.StatusBadRequest, oauthInvalidRequest, domain.ErrorMessage(err))
	case domain.ERATELIMIT:
		if wait, ok := commands.RetryAfter(err); ok {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10))
		}
		writeOAuth(w, http.StatusTooManyRequests, oauthUnavailable, domain.ErrorMessage(err))
	default:
		status, _ := statusFor(err)
		reqID := RequestIDFrom(r.Context())
		if status == http.StatusServiceUnavailable {
			s.logger.WarnContext(r.Context(), "token request: dependency unavailable", "request_id", reqID, "error", err)
			writeOAuth(w, status, oauthUnavailable, "the service is unavailable; retry later")
			return
		}
		s.logger.ErrorContext(r.Context(), "token request failed", "request_id", reqID, "error", err)
		writeOAuth(w, http.StatusInternalServerError, oauthServerError, "internal error; quote request id "+reqID+" when reporting it")
	}
}

// writeTokenError answers an OAuth error; a 401 names the Basic scheme
// (section 5.2 asks for the scheme the client used; the body form gets it
// too, as the one that would work).
func writeTokenError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", basicChallenge)
	}
	writeOAuth(w, status, code, description)
}

func writeOAuth(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, oauthError{Error: code, Description: strings.ToValidUTF8(description, "")})
}
