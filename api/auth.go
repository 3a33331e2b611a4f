package api

import (
	"context"
	"math"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/identity"
)

// IdentityReader is the identity read model; *identity.Reader satisfies it.
type IdentityReader interface {
	GetUser(ctx context.Context, id string) (identity.User, error)
	ListUsers(ctx context.Context, p identity.ListParams) ([]identity.User, error)
	GetRole(ctx context.Context, id string) (identity.Role, error)
	ListRoles(ctx context.Context, p identity.ListParams) ([]identity.Role, error)
	GetPolicy(ctx context.Context, id string) (identity.Policy, error)
	ListPolicies(ctx context.Context, p identity.ListParams) ([]identity.Policy, error)
}

// IdentityDeps are what the auth, user, role, policy and authz endpoints
// need.
type IdentityDeps struct {
	Identity *commands.Identity
	Reader   IdentityReader
	// TimeTravel answers reads given as_of or at_position and access
	// checks as of a past instant; without it those answer 503.
	TimeTravel *commands.TimeTravel
}

// MountIdentity registers /api/v1/auth, /users, /roles, /policies and
// /authz. The secret endpoints authenticate with BearerAuth(deps.Identity).
func (s *Server) MountIdentity(deps IdentityDeps) {
	h := identityHandlers{s: s, deps: deps, authn: BearerAuth(deps.Identity)}
	h.mountAuth()
	h.mountUsers()
	h.mountRoles()
	h.mountPolicies()
	h.mountAuthz()
}

type identityHandlers struct {
	s     *Server
	deps  IdentityDeps
	authn func(r *http.Request) (commands.Principal, error)
}

func (h identityHandlers) mountAuth() {
	h.s.handle(http.MethodPost, "/api/v1/auth/login", h.login)
	h.s.handle(http.MethodPost, "/api/v1/auth/refresh", h.refresh)
	h.s.handle(http.MethodPost, "/api/v1/auth/logout", h.s.authenticated(h.authn, h.logout))
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
	tokens, err := h.deps.Identity.Login(r.Context(), CallerFrom(r, commands.Principal{}), req.Username, req.Password)
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
	tokens, err := h.deps.Identity.Refresh(r.Context(), CallerFrom(r, commands.Principal{}), req.RefreshToken)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeTokens(w, tokens)
}

func (h identityHandlers) logout(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	written, err := h.deps.Identity.Logout(r.Context(), caller)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setPosition(w, written.Position)
	w.WriteHeader(http.StatusNoContent)
}

// identityWritten answers a write with its body: 200/201 once the identity
// read model shows it, 202 when the bounded wait ran out (the client then
// passes X-Vault-Position as X-Vault-Min-Position).
func identityWritten(w http.ResponseWriter, ok int, written commands.Written, body any) {
	setPosition(w, written.Position)
	if written.Pending {
		ok = http.StatusAccepted
	}
	writeJSON(w, ok, body)
}

// identityDeleted answers a delete: 204, or 202 while the read model lags.
func identityDeleted(w http.ResponseWriter, written commands.Written) {
	setPosition(w, written.Position)
	if written.Pending {
		writeJSON(w, http.StatusAccepted, map[string]any{"position": written.Position, "status": "pending"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listPage parses limit, cursor and name (a prefix filter, folded like the
// names it filters). The cursor is the last name of the previous page,
// opaque to clients and checked against the name grammar when it returns.
func listPage(r *http.Request) (identity.ListParams, error) {
	q := r.URL.Query()
	var p identity.ListParams
	prefix, err := domain.NormalizeIdentityNamePrefix(q.Get("name"))
	if err != nil {
		return p, err
	}
	p.Prefix = prefix
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > identity.MaxLimit {
			return p, domain.Errorf(domain.EINVALID, "limit must be an integer from 1 to %d", identity.MaxLimit)
		}
		p.Limit = n
	}
	if p.After, err = domain.DecodeIdentityNameCursor(q.Get("cursor")); err != nil {
		return p, err
	}
	return p, nil
}

// nextCursor is the cursor of the page after one that ended at lastName,
// or "" when the page was not full (there is nothing after it).
func nextCursor(p identity.ListParams, scanned int, lastName string) string {
	limit := p.Limit
	if limit == 0 {
		limit = identity.DefaultLimit
	}
	if scanned < limit {
		return ""
	}
	return domain.EncodeCursor(lastName)
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
