package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

// ServiceAccountDeps are what the service-account endpoints need: the
// identity commands (accounts are identities) and the account queries.
type ServiceAccountDeps struct {
	Commands *commands.Identity
	Queries  *queries.ServiceAccounts
}

// MountServiceAccounts registers /api/v1/service-accounts and the
// credentials under each account.
func (s *Server) MountServiceAccounts(deps ServiceAccountDeps) {
	h := serviceAccountHandlers{s: s, deps: deps}
	const base = "/api/v1/service-accounts"
	s.handle(http.MethodPost, base, s.authenticated(h.create))
	s.handle(http.MethodGet, base, s.authenticated(h.list), timeTravelQuery("name", "limit", "cursor")...)
	s.handle(http.MethodGet, base+"/{id}", s.authenticated(h.get), timeTravelQuery()...)
	s.handle(http.MethodPut, base+"/{id}", s.authenticated(h.update))
	s.handle(http.MethodDelete, base+"/{id}", s.authenticated(h.delete))
	s.handle(http.MethodPost, base+"/{id}/credentials", s.authenticated(h.createCredential))
	s.handle(http.MethodGet, base+"/{id}/credentials", s.authenticated(h.listCredentials), timeTravelQuery()...)
	s.handle(http.MethodPost, base+"/{id}/credentials/{credential_id}/rotate", s.authenticated(h.rotateCredential))
	s.handle(http.MethodDelete, base+"/{id}/credentials/{credential_id}", s.authenticated(h.revokeCredential))
}

type serviceAccountHandlers struct {
	s    *Server
	deps ServiceAccountDeps
}

type createServiceAccountRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Roles       []string `json:"roles"`
	Disabled    bool     `json:"disabled"`
}

type updateServiceAccountRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Roles       *[]string `json:"roles"`
	Disabled    *bool     `json:"disabled"`
}

type createCredentialRequest struct {
	Name         string     `json:"name"`
	ExpiresAt    *time.Time `json:"expires_at"`
	AllowedCIDRs []string   `json:"allowed_cidrs"`
}

// issuedCredentialJSON is a credential with its secret: answered once, by
// the request that made or rotated it.
type issuedCredentialJSON struct {
	domain.ClientCredentialSummary
	ClientSecret string `json:"client_secret"`
}

type credentialList struct {
	Items []domain.ClientCredentialSummary `json:"items"`
	*queries.Instant
}

func (h serviceAccountHandlers) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h.s.writeError(w, r, err)
}

func (h serviceAccountHandlers) create(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req createServiceAccountRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.Roles == nil {
		req.Roles = []string{}
	}
	v, written, err := h.deps.Commands.CreateServiceAccount(r.Context(), caller, commands.CreateServiceAccountInput{
		Name: req.Name, Description: req.Description, Roles: req.Roles, Disabled: req.Disabled,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/service-accounts/"+v.ID)
	identityWritten(w, http.StatusCreated, written, v)
}

func (h serviceAccountHandlers) list(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityList(h.s, w, r, caller, h.deps.Queries.ListServiceAccounts)
}

func (h serviceAccountHandlers) get(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	identityGet(h.s, w, r, caller, "service account id", h.deps.Queries.GetServiceAccount)
}

func (h serviceAccountHandlers) update(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "service account id")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req updateServiceAccountRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	v, written, err := h.deps.Commands.UpdateServiceAccount(r.Context(), caller, id, commands.UpdateServiceAccountInput{
		Name: req.Name, Description: req.Description, Roles: req.Roles, Disabled: req.Disabled,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusOK, written, v)
}

func (h serviceAccountHandlers) delete(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "service account id")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	written, err := h.deps.Commands.DeleteServiceAccount(r.Context(), caller, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeWritten(w, written)
}

func (h serviceAccountHandlers) createCredential(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "service account id")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req createCredentialRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	c, written, err := h.deps.Commands.CreateClientCredential(r.Context(), caller, id, commands.CreateCredentialInput{
		Name: req.Name, ExpiresAt: req.ExpiresAt, AllowedCIDRs: req.AllowedCIDRs,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/service-accounts/"+id+"/credentials/"+c.Credential.ID)
	writeIssuedCredential(w, http.StatusCreated, written, c)
}

func (h serviceAccountHandlers) listCredentials(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, err := pathID(r, "service account id")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		res, err := h.deps.Queries.ListCredentials(r.Context(), caller, id, at)
		return credentialList{Items: res.Value, Instant: res.At}, res.At, err
	})
}

func (h serviceAccountHandlers) rotateCredential(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, credentialID, err := credentialPath(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c, written, err := h.deps.Commands.RotateClientCredential(r.Context(), caller, id, credentialID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeIssuedCredential(w, http.StatusOK, written, c)
}

func (h serviceAccountHandlers) revokeCredential(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	id, credentialID, err := credentialPath(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	written, err := h.deps.Commands.RevokeClientCredential(r.Context(), caller, id, credentialID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setPosition(w, written.Position)
	w.WriteHeader(http.StatusNoContent)
}

func credentialPath(r *http.Request) (string, string, error) {
	id, err := pathID(r, "service account id")
	if err != nil {
		return "", "", err
	}
	credentialID := mux.Vars(r)["credential_id"]
	if err := domain.ValidateID("credential id", credentialID); err != nil {
		return "", "", err
	}
	return id, credentialID, nil
}

// writeIssuedCredential answers a credential with its secret; no cache may
// keep it.
func writeIssuedCredential(w http.ResponseWriter, status int, written commands.Written, c commands.IssuedCredential) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	identityWritten(w, status, written, issuedCredentialJSON{ClientCredentialSummary: c.Credential, ClientSecret: c.ClientSecret})
}
