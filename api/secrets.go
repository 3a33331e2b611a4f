package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// maskedValue stands in for a secret value in every answer but a reveal.
const maskedValue = "********"

// SecretsDeps are what the secret endpoints need. Authenticate turns a
// request into the caller's principal (an EUNAUTHORIZED error when it
// carries no valid credentials); the identity middleware provides it.
type SecretsDeps struct {
	Secrets      *commands.Secrets
	Authenticate func(r *http.Request) (commands.Principal, error)
	// TimeTravel answers reads given as_of or at_position, and a secret's
	// history and diff; without it those answer 503.
	TimeTravel *commands.TimeTravel
}

// MountSecrets registers the /api/v1/secrets endpoints.
func (s *Server) MountSecrets(deps SecretsDeps) {
	h := secretHandlers{s: s, deps: deps}
	s.handle(http.MethodPost, "/api/v1/secrets", h.create)
	s.handle(http.MethodGet, "/api/v1/secrets", h.list, timeTravelQuery("prefix", "tag", "include_deleted", "limit", "cursor")...)
	s.handle(http.MethodGet, "/api/v1/secrets/{id}", h.get, timeTravelQuery()...)
	s.handle(http.MethodDelete, "/api/v1/secrets/{id}", h.delete)
	s.handle(http.MethodGet, "/api/v1/secrets/{id}/reveal", h.reveal, "version")
	s.handle(http.MethodPut, "/api/v1/secrets/{id}/rotate", h.rotate)
	s.handle(http.MethodPost, "/api/v1/secrets/{id}/restore", h.restore)
	s.handle(http.MethodGet, "/api/v1/secrets/{id}/versions", h.versions, timeTravelQuery()...)
	s.handle(http.MethodPost, "/api/v1/secrets/{id}/versions/{version}/destroy", h.destroy)
	h.mountTimeTravel()
}

type secretHandlers struct {
	s    *Server
	deps SecretsDeps
}

// secretJSON is a secret's metadata with the value masked.
type secretJSON struct {
	domain.SecretSummary
	Value string `json:"value"`
}

type secretListJSON struct {
	Items      []secretJSON `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

type secretVersionsJSON struct {
	Items []domain.SecretVersionInfo `json:"items"`
}

type pendingJSON struct {
	Position int64  `json:"position"`
	Status   string `json:"status"`
}

type createSecretRequest struct {
	Name        string   `json:"name"`
	Value       string   `json:"value"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

type rotateSecretRequest struct {
	Value    string        `json:"value"`
	Generate *generateJSON `json:"generate"`
}

type generateJSON struct {
	Length  int    `json:"length"`
	Charset string `json:"charset"`
}

type revealJSON struct {
	Value   string `json:"value"`
	Version int64  `json:"version"`
}

func (h secretHandlers) caller(r *http.Request) (commands.Caller, error) {
	if h.deps.Authenticate == nil {
		return commands.Caller{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	p, err := h.deps.Authenticate(r)
	if err != nil {
		return commands.Caller{}, err
	}
	if !p.Authenticated() {
		return commands.Caller{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	md := MetadataFrom(r.Context())
	return commands.Caller{
		Principal: p, ClientIP: md.ClientIP, UserAgent: md.UserAgent,
		RequestID: md.RequestID, CorrelationID: md.CorrelationID,
	}, nil
}

func masked(sec domain.SecretSummary) secretJSON {
	if sec.Tags == nil {
		sec.Tags = []string{}
	}
	return secretJSON{SecretSummary: sec, Value: maskedValue}
}

// setSecretETag lets a client send back the version it saw as If-Match.
func setSecretETag(w http.ResponseWriter, sec domain.SecretSummary) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(sec.CurrentVersion, 10)))
}

// writeSecretResult answers a write: ok once the read model shows it, 202
// when the bounded wait ran out (the client then passes X-Vault-Position
// as X-Vault-Min-Position).
func writeSecretResult(w http.ResponseWriter, ok int, res commands.SecretResult) {
	setPosition(w, res.Written.Position)
	setSecretETag(w, res.Secret)
	if res.Written.Pending {
		ok = http.StatusAccepted
	}
	writeJSON(w, ok, masked(res.Secret))
}

func writeWritten(w http.ResponseWriter, written commands.Written) {
	setPosition(w, written.Position)
	if written.Pending {
		writeJSON(w, http.StatusAccepted, pendingJSON{Position: written.Position, Status: "pending"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h secretHandlers) create(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req createSecretRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Secrets.CreateSecret(r.Context(), caller, commands.CreateSecretInput{
		Name: req.Name, Description: req.Description, Tags: req.Tags, Value: []byte(req.Value),
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/secrets/"+res.Secret.ID)
	writeSecretResult(w, http.StatusCreated, res)
}

func (h secretHandlers) list(w http.ResponseWriter, r *http.Request) {
	if wantsTimeTravel(r) {
		h.listAt(w, r)
		return
	}
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	in := commands.SecretListInput{Prefix: q.Get("prefix"), Tag: q.Get("tag"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "limit must be a positive integer"))
			return
		}
		in.Limit = n
	}
	if v := q.Get("include_deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "include_deleted must be true or false"))
			return
		}
		in.IncludeDeleted = b
	}
	if err := h.s.awaitMinPosition(r, commands.SecretsReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	page, err := h.deps.Secrets.ListSecrets(r.Context(), caller, in)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out := secretListJSON{Items: make([]secretJSON, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, it := range page.Items {
		out.Items = append(out.Items, masked(it))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h secretHandlers) get(w http.ResponseWriter, r *http.Request) {
	if wantsTimeTravel(r) {
		h.getAt(w, r)
		return
	}
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.awaitMinPosition(r, commands.SecretsReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	sec, err := h.deps.Secrets.GetSecret(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setSecretETag(w, sec)
	writeJSON(w, http.StatusOK, masked(sec))
}

func (h secretHandlers) versions(w http.ResponseWriter, r *http.Request) {
	if wantsTimeTravel(r) {
		h.versionsAt(w, r)
		return
	}
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.awaitMinPosition(r, commands.SecretsReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	vs, err := h.deps.Secrets.SecretVersions(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if vs == nil {
		vs = []domain.SecretVersionInfo{}
	}
	writeJSON(w, http.StatusOK, secretVersionsJSON{Items: vs})
}

func (h secretHandlers) reveal(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var version int64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "version must be a positive integer"))
			return
		}
		version = n
	}
	// Reveals read the event log, not a read model: X-Vault-Min-Position has
	// nothing to wait for.
	rev, written, err := h.deps.Secrets.RevealSecret(r.Context(), caller, mux.Vars(r)["id"], version)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	body, err := json.Marshal(revealJSON{Value: string(rev.Value), Version: rev.Version})
	envelope.Zero(rev.Value)
	if err != nil {
		h.s.writeError(w, r, domain.WrapError(domain.EINTERNAL, "encode reveal", err))
		return
	}
	setPosition(w, written.Position)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
	clear(body)
}

func (h secretHandlers) rotate(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	expected, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req rotateSecretRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	in := commands.RotateSecretInput{ID: mux.Vars(r)["id"], Value: []byte(req.Value), ExpectedVersion: expected}
	if req.Generate != nil {
		in.Generate = &commands.GenerateSpec{Length: req.Generate.Length, Charset: req.Generate.Charset}
	}
	res, err := h.deps.Secrets.RotateSecret(r.Context(), caller, in)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeSecretResult(w, http.StatusOK, res)
}

// parseIfMatch reads the current version a rotation is conditional on, as a
// quoted entity tag ("3", what GET answers as ETag) or a bare number. "*"
// and an absent header mean unconditional.
func parseIfMatch(v string) (*int64, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" {
		return nil, nil
	}
	if unq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
		v = unq
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, domain.Errorf(domain.EINVALID, "If-Match must be the secret's current version")
	}
	return &n, nil
}

func (h secretHandlers) delete(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Secrets.DeleteSecret(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeWritten(w, res.Written)
}

func (h secretHandlers) restore(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Secrets.RestoreSecret(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeSecretResult(w, http.StatusOK, res)
}

func (h secretHandlers) destroy(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	version, err := strconv.ParseInt(mux.Vars(r)["version"], 10, 64)
	if err != nil || version < 1 {
		h.s.writeError(w, r, domain.Errorf(domain.ENOTFOUND, "no such version"))
		return
	}
	written, err := h.deps.Secrets.DestroySecretVersion(r.Context(), caller, mux.Vars(r)["id"], version)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeWritten(w, written)
}
