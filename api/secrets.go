package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

// maskedValue stands in for a secret value in every answer but a reveal.
const maskedValue = "********"

// SecretsDeps are what the secret endpoints need: the commands that change
// secrets (reveal included, since it appends its audit record) and the
// queries that read them, now or as of an instant.
type SecretsDeps struct {
	Commands *commands.Secrets
	Queries  *queries.Secrets
}

// MountSecrets registers the /api/v1/secrets endpoints.
func (s *Server) MountSecrets(deps SecretsDeps) {
	h := secretHandlers{s: s, deps: deps}
	s.handle(http.MethodPost, "/api/v1/secrets", s.authenticated(h.create))
	s.handle(http.MethodGet, "/api/v1/secrets", s.authenticated(h.list), timeTravelQuery("prefix", "tag", "include_deleted", "limit", "cursor")...)
	s.handle(http.MethodGet, "/api/v1/secrets/{id:[0-9a-fA-F-]+}", s.authenticated(h.get), timeTravelQuery()...)
	s.handle(http.MethodDelete, "/api/v1/secrets/{id:[0-9a-fA-F-]+}", s.authenticated(h.delete))
	s.handle(http.MethodGet, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/reveal", s.authenticated(h.reveal), "version")
	s.handle(http.MethodPut, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/rotate", s.authenticated(h.rotate))
	s.handle(http.MethodPost, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/restore", s.authenticated(h.restore))
	s.handle(http.MethodGet, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/versions", s.authenticated(h.versions), timeTravelQuery()...)
	s.handle(http.MethodPost, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/versions/{version}/destroy", s.authenticated(h.destroy))
	s.handle(http.MethodGet, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/history", s.authenticated(h.history), timeTravelQuery("limit", "cursor")...)
	s.handle(http.MethodGet, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/diff", s.authenticated(h.diff), "from", "to")
	s.mountSecretExtras(h)
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

// secretListJSON is a page of secrets, with the instant it shows when it
// was read as of one.
type secretListJSON struct {
	Items      []secretJSON `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
	*queries.Instant
}

type secretVersionsJSON struct {
	Items []domain.SecretVersionInfo `json:"items"`
	*queries.Instant
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

// writeSecretResult answers a write as soon as its events are in the log,
// with the position it wrote (X-Vault-Position): every later read waits
// for its read model itself, on whichever replica it lands.
func writeSecretResult(w http.ResponseWriter, ok int, res commands.SecretResult) {
	setPosition(w, res.Written.Position)
	setSecretETag(w, res.Secret)
	writeJSON(w, ok, masked(res.Secret))
}

// writeWritten answers a write that has no body: 204 and its position.
func writeWritten(w http.ResponseWriter, written commands.Written) {
	setPosition(w, written.Position)
	w.WriteHeader(http.StatusNoContent)
}

func (h secretHandlers) create(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req createSecretRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Commands.CreateSecret(r.Context(), caller, commands.CreateSecretInput{
		Name: req.Name, Description: req.Description, Tags: req.Tags, Value: []byte(req.Value),
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/secrets/"+res.Secret.ID)
	writeSecretResult(w, http.StatusCreated, res)
}

func (h secretHandlers) list(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	q := r.URL.Query()
	in := queries.SecretListInput{Prefix: q.Get("prefix"), Tag: q.Get("tag"), Cursor: q.Get("cursor")}
	var err error
	if in.Limit, err = optionalInt(q, "limit"); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if v := q.Get("include_deleted"); v != "" {
		if in.IncludeDeleted, err = strconv.ParseBool(v); err != nil {
			h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "include_deleted must be true or false"))
			return
		}
	}
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		page, err := h.deps.Queries.List(r.Context(), caller, in, at)
		out := secretListJSON{Items: make([]secretJSON, 0, len(page.Items)), NextCursor: page.NextCursor, Instant: page.Instant}
		for _, it := range page.Items {
			out.Items = append(out.Items, masked(it))
		}
		return out, page.Instant, err
	})
}

func (h secretHandlers) get(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		sec, err := h.deps.Queries.Get(r.Context(), caller, mux.Vars(r)["id"], at)
		if err == nil && sec.At == nil {
			// Only the present version is one a rotation can be conditional on.
			setSecretETag(w, sec.Value)
		}
		return masked(sec.Value), sec.At, err
	})
}

func (h secretHandlers) versions(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		vs, err := h.deps.Queries.Versions(r.Context(), caller, mux.Vars(r)["id"], at)
		return secretVersionsJSON{Items: vs.Value, Instant: vs.At}, vs.At, err
	})
}

// history answers the timeline of a secret, oldest first, paged by
// position; as_of or at_position bound it.
func (h secretHandlers) history(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	in, err := historyInput(r.URL.Query())
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		page, err := h.deps.Queries.History(r.Context(), caller, mux.Vars(r)["id"], in, at)
		return page, &page.Instant, err
	})
}

// diff answers what changed between ?from= and ?to= (each a time or a
// position; to defaults to now).
func (h secretHandlers) diff(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	in, err := diffInput(r.URL.Query())
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	d, err := h.deps.Queries.Diff(r.Context(), caller, mux.Vars(r)["id"], in)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, &d.To)
	writeJSON(w, http.StatusOK, d)
}

func (h secretHandlers) reveal(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	version, err := revealVersion(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	// Reveals read the event log, not a read model: X-Vault-Min-Position has
	// nothing to wait for.
	rev, written, err := h.deps.Commands.RevealSecret(r.Context(), caller, mux.Vars(r)["id"], version)
	h.writeReveal(w, r, rev, written, err)
}

func (h secretHandlers) rotate(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
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
	res, err := h.deps.Commands.RotateSecret(r.Context(), caller, in)
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

func (h secretHandlers) delete(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	res, err := h.deps.Commands.DeleteSecret(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeWritten(w, res.Written)
}

func (h secretHandlers) restore(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	res, err := h.deps.Commands.RestoreSecret(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeSecretResult(w, http.StatusOK, res)
}

func (h secretHandlers) destroy(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	version, err := strconv.ParseInt(mux.Vars(r)["version"], 10, 64)
	if err != nil || version < 1 {
		h.s.writeError(w, r, domain.Errorf(domain.ENOTFOUND, "no such version"))
		return
	}
	written, err := h.deps.Commands.DestroySecretVersion(r.Context(), caller, mux.Vars(r)["id"], version)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeWritten(w, written)
}
