package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity"
)

func (h identityHandlers) mountUsers() {
	h.s.handle(http.MethodPost, "/api/v1/users", h.s.authenticated(h.authn, h.createUser))
	h.s.handle(http.MethodGet, "/api/v1/users", h.s.authenticated(h.authn, h.listUsers), timeTravelQuery("name", "limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/users/{id}", h.s.authenticated(h.authn, h.getUser), timeTravelQuery()...)
	h.s.handle(http.MethodPut, "/api/v1/users/{id}", h.s.authenticated(h.authn, h.updateUser))
	h.s.handle(http.MethodDelete, "/api/v1/users/{id}", h.s.authenticated(h.authn, h.deleteUser))
}

// createUserRequest: password is write-only; no answer ever carries it.
type createUserRequest struct {
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
}

// updateUserRequest changes the fields present.
type updateUserRequest struct {
	Username *string   `json:"username"`
	Email    *string   `json:"email"`
	Password *string   `json:"password"`
	Roles    *[]string `json:"roles"`
	Disabled *bool     `json:"disabled"`
}

func userJSON(v commands.UserView) commands.UserView {
	if v.Roles == nil {
		v.Roles = []string{}
	}
	return v
}

func (h identityHandlers) createUser(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	var req createUserRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Roles == nil {
		req.Roles = []string{}
	}
	u, written, err := h.deps.Identity.CreateUser(r.Context(), caller, commands.CreateUserInput{
		Username: req.Username, Email: req.Email, Password: req.Password, Roles: req.Roles, Disabled: req.Disabled,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	identityWritten(w, http.StatusCreated, written, userJSON(u))
}

// mayReadUser: administrators of the user, and the user itself.
func (h identityHandlers) mayReadUser(caller commands.Caller, u identity.User) bool {
	return caller.Principal.UserID == u.ID || h.deps.Identity.Allowed(caller, domain.ActionAdmin, commands.UserResource(u.Username))
}

// listUsers shows the users the caller may administer (and itself). The
// filter runs after the page is read, so a page may hold fewer items than
// the limit while next_cursor still leads on.
func (h identityHandlers) listUsers(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.listUsersAt(w, r, caller)
		return
	}
	serveIdentityList(h, w, r, h.deps.Reader.ListUsers,
		func(u identity.User) bool { return h.mayReadUser(caller, u) },
		func(u identity.User) string { return u.Username })
}

func (h identityHandlers) getUser(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	if wantsTimeTravel(r) {
		h.getUserAt(w, r, caller)
		return
	}
	serveIdentityGet(h, w, r, "user id", h.deps.Reader.GetUser, func(u identity.User) error {
		if caller.Principal.UserID == u.ID {
			return nil // users may read themselves
		}
		return h.deps.Identity.Authorize(r.Context(), caller, domain.ActionAdmin, commands.UserResource(u.Username))
	})
}

func (h identityHandlers) updateUser(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	id, err := pathID(r, "user id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req updateUserRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	u, written, err := h.deps.Identity.UpdateUser(r.Context(), caller, id, commands.UpdateUserInput{
		Username: req.Username, Email: req.Email, Password: req.Password, Roles: req.Roles, Disabled: req.Disabled,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, userJSON(u))
}

func (h identityHandlers) deleteUser(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	id, err := pathID(r, "user id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	written, err := h.deps.Identity.DeleteUser(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityDeleted(w, written)
}
