package api

import (
	"context"
	"net/http"

	"github.com/securevault/vault/domain"
)

// StatusQuery answers the pipelines' progress to an authorized caller;
// *queries.Status satisfies it.
type StatusQuery interface {
	Status(ctx context.Context, caller domain.Caller) (any, error)
}

// StatusDeps are what GET /api/v1/status needs.
type StatusDeps struct {
	Queries StatusQuery
}

// MountStatus serves GET /api/v1/status: how far each projection and the
// relay have got behind the head of the log. It needs a bearer token (401
// with WWW-Authenticate otherwise) and `read` on `audit`, which the query
// checks; /healthz and /readyz stay open for orchestrators.
func (s *Server) MountStatus(deps StatusDeps) {
	s.handle(http.MethodGet, "/api/v1/status", s.authenticated(func(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
		st, err := deps.Queries.Status(r.Context(), caller)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}))
}
