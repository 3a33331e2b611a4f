package api

import (
	"net/http"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

func (h identityHandlers) mountAuthz() {
	h.s.handle(http.MethodPost, "/api/v1/authz/check", h.s.authenticated(h.checkAccess))
}

type authzCheckRequest struct {
	UserID   string `json:"user_id"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// AsOf (RFC 3339) or AtPosition evaluates the user's roles and
	// policies as they were then.
	AsOf       *string `json:"as_of"`
	AtPosition *int64  `json:"at_position"`
	// Grant asks instead whether the user (the caller when user_id is
	// empty) could hand out these permissions, and if not, which one it
	// lacks first; Target is the resource the change would be made on,
	// where escalate lets it grant anyway.
	Grant  *grantCheckRequest `json:"grant"`
	Target string             `json:"target"`
}

type grantCheckRequest struct {
	Statements []domain.Statement `json:"statements"`
	Policies   []string           `json:"policies"`
	Roles      []string           `json:"roles"`
}

// checkAccess answers the decision for another user and the statement that
// made it (statement_index -1: nothing matched, denied by default), or,
// with "grant", whether a grant would be refused as an escalation.
func (h identityHandlers) checkAccess(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req authzCheckRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Grant != nil {
		h.checkGrant(w, r, caller, req)
		return
	}
	if req.Target != "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "target is only meaningful with grant"))
		return
	}
	at := queries.At{Position: req.AtPosition}
	if req.AsOf != nil {
		t, err := parseTime(paramAsOf, *req.AsOf)
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		at.Time = &t
	}
	check, err := h.deps.Queries.CheckAccess(r.Context(), caller, queries.AccessCheckInput{
		UserID: req.UserID, Action: req.Action, Resource: req.Resource,
	}, at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, check.Instant)
	writeJSON(w, http.StatusOK, check)
}

func (h identityHandlers) checkGrant(w http.ResponseWriter, r *http.Request, caller domain.Caller, req authzCheckRequest) {
	if req.Action != "" || req.Resource != "" || req.AsOf != nil || req.AtPosition != nil {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "grant is checked on its own, as of now: leave out action, resource, as_of and at_position"))
		return
	}
	check, err := h.deps.Queries.CheckGrant(r.Context(), caller, queries.GrantCheckInput{
		UserID: req.UserID, Target: req.Target,
		Statements: req.Grant.Statements, Policies: req.Grant.Policies, Roles: req.Grant.Roles,
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, check)
}
