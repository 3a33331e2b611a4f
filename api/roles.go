package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

func (h identityHandlers) mountRoles() {
	h.s.handle(http.MethodPost, "/api/v1/roles", h.s.authenticated(h.createRole))
	h.s.handle(http.MethodGet, "/api/v1/roles", h.s.authenticated(h.listRoles), timeTravelQuery("name", "limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/roles/{id}", h.s.authenticated(h.getRole), timeTravelQuery()...)
	h.s.handle(http.MethodPut, "/api/v1/roles/{id}", h.s.authenticated(h.updateRole))
	h.s.handle(http.MethodDelete, "/api/v1/roles/{id}", h.s.authenticated(h.deleteRole))
}

// roleRequest serves create (name required) and update (fields present
// change).
type roleRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Policies    *[]string `json:"policies"`
}

func roleJSON(v commands.RoleView) commands.RoleView {
	if v.Policies == nil {
		v.Policies = []string{}
	}
	return v
}

func (h identityHandlers) createRole(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req roleRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	role, written, err := h.deps.Commands.CreateRole(r.Context(), caller, commands.RoleInput(req))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/roles/"+role.ID)
	identityWritten(w, http.StatusCreated, written, roleJSON(role))
}

// listRoles shows the roles the caller may administer. Now, the filter runs
// after the page is read, so a page may hold fewer items than the limit
// while next_cursor still leads on.
func (h identityHandlers) listRoles(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityList(h.s, w, r, caller, h.deps.Queries.ListRoles)
}

func (h identityHandlers) getRole(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityGet(h.s, w, r, caller, "role id", h.deps.Queries.GetRole)
}

func (h identityHandlers) updateRole(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "role id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req roleRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	role, written, err := h.deps.Commands.UpdateRole(r.Context(), caller, id, commands.RoleInput(req))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, roleJSON(role))
}

func (h identityHandlers) deleteRole(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "role id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	written, err := h.deps.Commands.DeleteRole(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeWritten(w, written)
}
