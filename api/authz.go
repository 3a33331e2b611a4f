package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
)

func (h identityHandlers) mountAuthz() {
	h.s.handle(http.MethodPost, "/api/v1/authz/check", h.s.authenticated(h.authn, h.checkAccess))
}

type authzCheckRequest struct {
	UserID   string `json:"user_id"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// AsOf (RFC 3339) or AtPosition evaluates the user's roles and
	// policies as they were then.
	AsOf       *string `json:"as_of"`
	AtPosition *int64  `json:"at_position"`
}

// checkAccess answers the decision for another user and the statement that
// made it (statement_index -1: nothing matched, denied by default).
func (h identityHandlers) checkAccess(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	var req authzCheckRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.AsOf != nil || req.AtPosition != nil {
		h.checkAccessAt(w, r, caller, req)
		return
	}
	check, err := h.deps.Identity.CheckAccess(r.Context(), caller, req.UserID, req.Action, req.Resource)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, check)
}
