package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

func (h identityHandlers) mountPolicies() {
	h.s.handle(http.MethodPost, "/api/v1/policies", h.s.authenticated(h.createPolicy))
	h.s.handle(http.MethodGet, "/api/v1/policies", h.s.authenticated(h.listPolicies), timeTravelQuery("name", "limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/policies/{id}", h.s.authenticated(h.getPolicy), timeTravelQuery()...)
	h.s.handle(http.MethodPut, "/api/v1/policies/{id}", h.s.authenticated(h.updatePolicy))
	h.s.handle(http.MethodDelete, "/api/v1/policies/{id}", h.s.authenticated(h.deletePolicy))
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

func (h identityHandlers) createPolicy(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req policyRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	p, written, err := h.deps.Commands.CreatePolicy(r.Context(), caller, req.input())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/policies/"+p.ID)
	identityWritten(w, http.StatusCreated, written, p)
}

// listPolicies shows the policies the caller may administer. Now, the filter runs
// after the page is read, so a page may hold fewer items than the limit
// while next_cursor still leads on.
func (h identityHandlers) listPolicies(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityList(h.s, w, r, caller, h.deps.Queries.ListPolicies)
}

func (h identityHandlers) getPolicy(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityGet(h.s, w, r, caller, "policy id", h.deps.Queries.GetPolicy)
}

func (h identityHandlers) updatePolicy(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
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
	p, written, err := h.deps.Commands.UpdatePolicy(r.Context(), caller, id, req.input())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, p)
}

func (h identityHandlers) deletePolicy(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "policy id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	written, err := h.deps.Commands.DeletePolicy(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeWritten(w, written)
}
