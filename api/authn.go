package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/securevault/vault/domain"
)

// Authenticator turns a bearer access token into the principal it speaks
// for; *queries.Authenticator satisfies it. A revoked session, a disabled
// user or a changed policy must show in the very next answer.
type Authenticator interface {
	// Authenticate decides on a bearer token for a request from clientIP
	// (the client's address after trusted proxies).
	Authenticate(ctx context.Context, bearerToken, clientIP string) (domain.Principal, error)
}

// maxAuthorizationHeader bounds what is handed to the JWT parser; the
// token verifier refuses long tokens as well.
const maxAuthorizationHeader = 8192

func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", domain.Errorf(domain.EUNAUTHORIZED, "authentication required: send Authorization: Bearer <access token>")
	}
	if len(values) > 1 || len(values[0]) > maxAuthorizationHeader {
		return "", domain.Errorf(domain.EUNAUTHORIZED, "invalid Authorization header")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", domain.Errorf(domain.EUNAUTHORIZED, "invalid Authorization header: the scheme must be Bearer")
	}
	return token, nil
}

// CallerFrom builds the caller of a request made by p, with the request's
// address, user agent and ids for the events' metadata.
func CallerFrom(r *http.Request, p domain.Principal) domain.Caller {
	md := MetadataFrom(r.Context())
	return domain.Caller{
		Principal: p, ClientIP: md.ClientIP, UserAgent: md.UserAgent,
		RequestID: md.RequestID, CorrelationID: md.CorrelationID,
	}
}

// authenticate reads `Authorization: Bearer <token>` and asks the
// authenticator who it is: an EUNAUTHORIZED error for a missing, malformed
// or rejected token, and for every request when no authenticator is
// configured (deny by default).
func (s *Server) authenticate(r *http.Request) (domain.Principal, error) {
	if s.authn == nil {
		return domain.Principal{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	token, err := bearerToken(r)
	if err != nil {
		return domain.Principal{}, err
	}
	p, err := s.authn.Authenticate(r.Context(), token, MetadataFrom(r.Context()).ClientIP)
	if err != nil {
		return domain.Principal{}, err
	}
	if !p.Authenticated() {
		return domain.Principal{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	return p, nil
}

// authenticated is the one way a protected route authenticates: without a
// valid bearer token it answers 401 JSON (writeError adds
// WWW-Authenticate), with one it records the actor for logs and metadata
// and passes the Caller on.
func (s *Server) authenticated(h func(w http.ResponseWriter, r *http.Request, caller domain.Caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = r.WithContext(WithActor(r.Context(), p.UserID, p.Username))
		h(w, r, CallerFrom(r, p))
	}
}
