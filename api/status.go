package api

import (
	"context"
	"net/http"
)

// StatusSource reports the progress of the background pipelines (projection
// checkpoints, relay position) as any JSON-encodable value.
type StatusSource func(ctx context.Context) (any, error)

// MountStatus serves GET /api/v1/status: how far each projection and the
// relay have got behind the head of the log. It carries positions only, no
// resource names, so it needs no authentication, like /readyz.
func (s *Server) MountStatus(source StatusSource) {
	s.handle(http.MethodGet, "/api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := source(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
}
