package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// refusingAuthenticator refuses every token, counting how often it is
// asked.
type refusingAuthenticator struct{ asked atomic.Int64 }

func (a *refusingAuthenticator) Authenticate(context.Context, string, string) (domain.Principal, error) {
	a.asked.Add(1)
	return domain.Principal{}, domain.ErrInvalidToken()
}

// publicRoutes need no token: logging in, refreshing a pair, the API's own
// description.
var publicRoutes = map[string]bool{
	http.MethodPost + " /api/v1/auth/login":   true,
	http.MethodPost + " /api/v1/auth/refresh": true,
	http.MethodGet + " " + PathOpenAPI:        true,
}

// Every protected route authenticates through the one wrapper: with the
// handlers' dependencies left out entirely, any route that reached its
// handler would fail otherwise than 401. Each answers 401 with the Bearer
// challenge, with no token and with a refused one.
func TestEveryProtectedRouteAnswers401WithTheBearerChallenge(t *testing.T) {
	t.Parallel()
	authn := &refusingAuthenticator{}
	s, err := New(Config{}, Deps{Authenticator: authn})
	require.NoError(t, err)
	s.MountIdentity(IdentityDeps{})
	s.MountSecrets(SecretsDeps{})
	s.MountAudit(AuditDeps{})
	s.MountStatus(StatusDeps{})

	protected := 0
	for _, e := range s.Endpoints() {
		if e.AnyQuery || publicRoutes[e.Method+" "+e.Path] {
			continue
		}
		protected++
		path := strings.NewReplacer("{id}", domain.NewID(), "{version}", "1").Replace(e.Path)
		for _, token := range []string{"", "Bearer not-a-token"} {
			req := httptest.NewRequest(e.Method, path, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", token)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %q: %s", e.Method, e.Path, token, rec.Body.String())
			require.Equal(t, bearerChallenge, rec.Header().Get("WWW-Authenticate"), "%s %s", e.Method, e.Path)
			require.Equal(t, domain.EUNAUTHORIZED, decodeErrorBody(t, rec).Code)
		}
	}
	require.Greater(t, protected, 25, "the routes were not mounted")
	require.Equal(t, int64(protected), authn.asked.Load(), "every route with a token asked the authenticator")
}
