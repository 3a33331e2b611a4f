package api

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

// IdentityDeps are what the auth, user, role, policy and authz endpoints
// need: the identity commands (login, refresh and logout among them) and
// the identity queries (users, roles, policies and access checks, now or as
// of an instant).
type IdentityDeps struct {
	Commands *commands.Identity
	Queries  *queries.Identity
}

// MountIdentity registers /api/v1/auth, /users, /roles, /policies and
// /authz.
func (s *Server) MountIdentity(deps IdentityDeps) {
	h := identityHandlers{s: s, deps: deps}
	h.mountAuth()
	h.mountUsers()
	h.mountRoles()
	h.mountPolicies()
	h.mountAuthz()
}

type identityHandlers struct {
	s    *Server
	deps IdentityDeps
}

func (h identityHandlers) mountAuth() {
	h.s.handle(http.MethodPost, "/api/v1/auth/login", h.login)
	h.s.handle(http.MethodPost, "/api/v1/auth/refresh", h.refresh)
	h.s.handle(http.MethodPost, "/api/v1/auth/logout", h.s.authenticated(h.logout))
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// tokenResponse is RFC 6749's token answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// writeIdentityError adds Retry-After to rate-limit answers.
func (h identityHandlers) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if wait, ok := commands.RetryAfter(err); ok {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10))
	}
	h.s.writeError(w, r, err)
}

func writeTokens(w http.ResponseWriter, t commands.Tokens) {
	// Tokens are credentials: no cache may keep them (RFC 6749 5.1).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: t.Access.Value, RefreshToken: t.Refresh.Value, TokenType: "Bearer",
		ExpiresIn: int64(t.ExpiresIn.Seconds()),
	})
}

func (h identityHandlers) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "username and password are required"))
		return
	}
	tokens, err := h.deps.Commands.Login(r.Context(), CallerFrom(r, domain.Principal{}), req.Username, req.Password)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeTokens(w, tokens)
}

func (h identityHandlers) refresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "refresh_token is required"))
		return
	}
	tokens, err := h.deps.Commands.Refresh(r.Context(), CallerFrom(r, domain.Principal{}), req.RefreshToken)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeTokens(w, tokens)
}

func (h identityHandlers) logout(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	written, err := h.deps.Commands.Logout(r.Context(), caller)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setPosition(w, written.Position)
	w.WriteHeader(http.StatusNoContent)
}

// identityWritten answers a write with its body and the position it wrote
// (see writeSecretResult).
func identityWritten(w http.ResponseWriter, ok int, written commands.Written, body any) {
	setPosition(w, written.Position)
	writeJSON(w, ok, body)
}

// identityListInput reads a listing's name prefix, limit and cursor; the
// query checks them against the name grammar and the bounds.
func identityListInput(q url.Values) (queries.IdentityListInput, error) {
	in := queries.IdentityListInput{Prefix: q.Get("name"), Cursor: q.Get("cursor")}
	var err error
	in.Limit, err = optionalInt(q, "limit")
	return in, err
}

// identityGet answers one user, role, policy or service account, now or as
// of the instant the request asks for.
func identityGet[T any](s *Server, w http.ResponseWriter, r *http.Request, caller domain.Caller, field string,
	get func(ctx context.Context, caller domain.Caller, id string, at queries.At) (queries.Result[T], error)) {
	id, err := pathID(r, field)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		res, err := get(r.Context(), caller, id, at)
		return res.Value, res.At, err
	})
}

// identityList answers a page of users, roles, policies or service
// accounts, now or as of the instant the request asks for.
func identityList[T any](s *Server, w http.ResponseWriter, r *http.Request, caller domain.Caller,
	list func(ctx context.Context, caller domain.Caller, in queries.IdentityListInput, at queries.At) (queries.Page[T], error)) {
	in, err := identityListInput(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		page, err := list(r.Context(), caller, in, at)
		return page, page.Instant, err
	})
}

// pathID returns the {id} path variable, refusing anything but a UUID
// before any work (or any write) happens.
func pathID(r *http.Request, field string) (string, error) {
	id := mux.Vars(r)["id"]
	if err := domain.ValidateID(field, id); err != nil {
		return "", err
	}
	return id, nil
}
