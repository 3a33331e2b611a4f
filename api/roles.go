package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity"
)

func (h identityHandlers) mountRoles() {
	h.s.handle(http.MethodPost, "/api/v1/roles", h.s.authenticated(h.authn, h.createRole))
	h.s.handle(http.MethodGet, "/api/v1/roles", h.s.authenticated(h.authn, h.listRoles), timeTravelQuery("name", "limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/roles/{id}", h.s.authenticated(h.authn, h.getRole), timeTravelQuery()...)
	h.s.handle(http.MethodPut, "/api/v1/roles/{id}", h.s.authenticated(h.authn, h.updateRole))
	h.s.handle(http.MethodDelete, "/api/v1/roles/{id}", h.s.authenticated(h.authn, h.deleteRole))
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

func (h identityHandlers) createRole(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	var req roleRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	role, written, err := h.deps.Identity.CreateRole(r.Context(), caller, commands.RoleInput(req))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/roles/"+role.ID)
	identityWritten(w, http.StatusCreated, written, roleJSON(role))
}

func (h identityHandlers) listRoles(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.listRolesAt(w, r, caller)
		return
	}
	serveIdentityList(h, w, r, h.deps.Reader.ListRoles,
		func(role identity.Role) bool {
			return h.deps.Identity.Allowed(caller, domain.ActionAdmin, commands.RoleResource(role.Name))
		},
		func(role identity.Role) string { return role.Name })
}

func (h identityHandlers) getRole(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.getRoleAt(w, r, caller)
		return
	}
	serveIdentityGet(h, w, r, "role id", h.deps.Reader.GetRole, func(role identity.Role) error {
		return h.deps.Identity.Authorize(r.Context(), caller, domain.ActionAdmin, commands.RoleResource(role.Name))
	})
}

func (h identityHandlers) updateRole(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
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
	role, written, err := h.deps.Identity.UpdateRole(r.Context(), caller, id, commands.RoleInput(req))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, roleJSON(role))
}

func (h identityHandlers) deleteRole(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	id, err := pathID(r, "role id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	written, err := h.deps.Identity.DeleteRole(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityDeleted(w, written)
}
