package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity"
)

func (h identityHandlers) mountPolicies() {
	h.s.handle(http.MethodPost, "/api/v1/policies", h.s.authenticated(h.authn, h.createPolicy))
	h.s.handle(http.MethodGet, "/api/v1/policies", h.s.authenticated(h.authn, h.listPolicies))
	h.s.handle(http.MethodGet, "/api/v1/policies/{id}", h.s.authenticated(h.authn, h.getPolicy))
	h.s.handle(http.MethodPut, "/api/v1/policies/{id}", h.s.authenticated(h.authn, h.updatePolicy))
	h.s.handle(http.MethodDelete, "/api/v1/policies/{id}", h.s.authenticated(h.authn, h.deletePolicy))
}

// statementRequest is one statement, strictly decoded like the rest.
type statementRequest struct {
	Effect    string   `json:"effect"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
}

type policyRequest struct {
	Name        *string             `json:"name"`
	Description *string             `json:"description"`
	Statements  *[]statementRequest `json:"statements"`
}

func (req policyRequest) input() commands.PolicyInput {
	in := commands.PolicyInput{Name: req.Name, Description: req.Description}
	if req.Statements != nil {
		st := make([]domain.Statement, 0, len(*req.Statements))
		for _, s := range *req.Statements {
			st = append(st, domain.Statement(s))
		}
		in.Statements = &st
	}
	return in
}

type policyListResponse struct {
	Items      []identity.Policy `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (h identityHandlers) createPolicy(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	var req policyRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	p, written, err := h.deps.Identity.CreatePolicy(r.Context(), caller, req.input())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/policies/"+p.ID)
	identityWritten(w, http.StatusCreated, written, p)
}

func (h identityHandlers) listPolicies(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.listPoliciesAt(w, r, caller)
		return
	}
	p, err := listPage(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.awaitMinPosition(r, commands.IdentityReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	rows, err := h.deps.Reader.ListPolicies(r.Context(), p)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out := policyListResponse{Items: []identity.Policy{}}
	for _, pol := range rows {
		if h.deps.Identity.Allowed(caller, domain.ActionAdmin, commands.PolicyResource(pol.Name)) {
			out.Items = append(out.Items, pol)
		}
	}
	if len(rows) > 0 {
		out.NextCursor = nextCursor(p, len(rows), rows[len(rows)-1].Name)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h identityHandlers) getPolicy(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.getPolicyAt(w, r, caller)
		return
	}
	id, err := pathID(r, "policy id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.awaitMinPosition(r, commands.IdentityReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	pol, err := h.deps.Reader.GetPolicy(r.Context(), id)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.deps.Identity.Authorize(r.Context(), caller, domain.ActionAdmin, commands.PolicyResource(pol.Name)); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pol)
}

func (h identityHandlers) updatePolicy(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	id, err := pathID(r, "policy id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req policyRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	p, written, err := h.deps.Identity.UpdatePolicy(r.Context(), caller, id, req.input())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, p)
}

func (h identityHandlers) deletePolicy(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	id, err := pathID(r, "policy id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	written, err := h.deps.Identity.DeletePolicy(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityDeleted(w, written)
}
