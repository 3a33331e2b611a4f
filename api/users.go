package api

import (
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

func (h identityHandlers) mountUsers() {
	h.s.handle(http.MethodPost, "/api/v1/users", h.s.authenticated(h.createUser))
	h.s.handle(http.MethodGet, "/api/v1/users", h.s.authenticated(h.listUsers), timeTravelQuery("name", "limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/users/{id}", h.s.authenticated(h.getUser), timeTravelQuery()...)
	h.s.handle(http.MethodPut, "/api/v1/users/{id}", h.s.authenticated(h.updateUser))
	h.s.handle(http.MethodDelete, "/api/v1/users/{id}", h.s.authenticated(h.deleteUser))
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

func (h identityHandlers) createUser(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req createUserRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Roles == nil {
		req.Roles = []string{}
	}
	u, written, err := h.deps.Commands.CreateUser(r.Context(), caller, commands.CreateUserInput{
		Username: req.Username, Email: req.Email, Password: req.Password, Roles: req.Roles, Disabled: req.Disabled,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	identityWritten(w, http.StatusCreated, written, userJSON(u))
}

// listUsers shows the users the caller may administer (and itself). Now, the filter runs
// after the page is read, so a page may hold fewer items than the limit
// while next_cursor still leads on.
func (h identityHandlers) listUsers(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityList(h.s, w, r, caller, h.deps.Queries.ListUsers)
}

func (h identityHandlers) getUser(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityGet(h.s, w, r, caller, "user id", h.deps.Queries.GetUser)
}

func (h identityHandlers) updateUser(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
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
	u, written, err := h.deps.Commands.UpdateUser(r.Context(), caller, id, commands.UpdateUserInput{
		Username: req.Username, Email: req.Email, Password: req.Password, Roles: req.Roles, Disabled: req.Disabled,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, userJSON(u))
}

func (h identityHandlers) deleteUser(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "user id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	written, err := h.deps.Commands.DeleteUser(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeWritten(w, written)
}
