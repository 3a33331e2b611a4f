package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// TokenAuthenticator turns a bearer token into a principal;
// *commands.Identity satisfies it.
type TokenAuthenticator interface {
	Authenticate(ctx context.Context, bearerToken string) (commands.Principal, error)
}

// maxAuthorizationHeader bounds what is handed to the JWT parser; the
// token verifier refuses long tokens as well.
const maxAuthorizationHeader = 8192

// BearerAuth adapts a TokenAuthenticator to requests: it reads
// `Authorization: Bearer <token>` and answers an EUNAUTHORIZED error for a
// missing, malformed or rejected token. SecretsDeps.Authenticate takes it.
func BearerAuth(a TokenAuthenticator) func(r *http.Request) (commands.Principal, error) {
	return func(r *http.Request) (commands.Principal, error) {
		token, err := bearerToken(r)
		if err != nil {
			return commands.Principal{}, err
		}
		p, err := a.Authenticate(r.Context(), token)
		if err != nil {
			return commands.Principal{}, err
		}
		if !p.Authenticated() {
			return commands.Principal{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
		}
		return p, nil
	}
}

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

// CallerFrom builds the commands.Caller of a request made by p, with the
// request's address, user agent and ids for the events' metadata.
func CallerFrom(r *http.Request, p commands.Principal) commands.Caller {
	md := MetadataFrom(r.Context())
	return commands.Caller{
		Principal: p, ClientIP: md.ClientIP, UserAgent: md.UserAgent,
		RequestID: md.RequestID, CorrelationID: md.CorrelationID,
	}
}

// authenticated wraps a handler that needs a signed-in caller: without a
// valid bearer token it answers 401 JSON (writeError adds WWW-Authenticate),
// with one it records the actor for logs and metadata and passes the Caller
// on.
func (s *Server) authenticated(authn func(r *http.Request) (commands.Principal, error),
	h func(w http.ResponseWriter, r *http.Request, caller commands.Caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := authn(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = r.WithContext(WithActor(r.Context(), p.UserID, p.Username))
		h(w, r, CallerFrom(r, p))
	}
}
