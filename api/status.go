package api

import (
	"context"
	"net/http"

	"github.com/securevault/vault/commands"
)

// StatusQuery answers the pipelines' progress to an authorized caller;
// *commands.Status satisfies it.
type StatusQuery interface {
	Status(ctx context.Context, caller commands.Caller) (any, error)
}

// StatusDeps are what GET /api/v1/status needs. Authenticate is
// BearerAuth(identity).
type StatusDeps struct {
	Status       StatusQuery
	Authenticate func(r *http.Request) (commands.Principal, error)
}

// MountStatus serves GET /api/v1/status: how far each projection and the
// relay have got behind the head of the log. It needs a bearer token (401
// with WWW-Authenticate otherwise) and `read` on `audit`, which the query
// checks; /healthz and /readyz stay open for orchestrators.
func (s *Server) MountStatus(deps StatusDeps) {
	s.handle(http.MethodGet, "/api/v1/status", s.authenticated(deps.Authenticate, func(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
		st, err := deps.Status.Status(r.Context(), caller)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}))
}
