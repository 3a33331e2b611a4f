package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity"
)

func (h identityHandlers) mountPolicies() {
	h.s.handle(http.MethodPost, "/api/v1/policies", h.s.authenticated(h.authn, h.createPolicy))
	h.s.handle(http.MethodGet, "/api/v1/policies", h.s.authenticated(h.authn, h.listPolicies), timeTravelQuery("name", "limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/policies/{id}", h.s.authenticated(h.authn, h.getPolicy), timeTravelQuery()...)
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
	serveIdentityList(h, w, r, h.deps.Reader.ListPolicies,
		func(pol identity.Policy) bool {
			return h.deps.Identity.Allowed(caller, domain.ActionAdmin, commands.PolicyResource(pol.Name))
		},
		func(pol identity.Policy) string { return pol.Name })
}

func (h identityHandlers) getPolicy(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.getPolicyAt(w, r, caller)
		return
	}
	serveIdentityGet(h, w, r, "policy id", h.deps.Reader.GetPolicy, func(pol identity.Policy) error {
		return h.deps.Identity.Authorize(r.Context(), caller, domain.ActionAdmin, commands.PolicyResource(pol.Name))
	})
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
