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
	"github.com/securevault/vault/queries"
)

// The routes a client needs beyond the id routes: secrets by name (the
// name may contain '/', raw or as %2F), metadata edits, server-side
// rollback, and the batch reveal `vaultctl run` makes in one request.
//
// A secret whose name ends in "/reveal" is reached by id: by name, that
// path is the reveal of the shorter name.
func (s *Server) mountSecretExtras(h secretHandlers) {
	s.handle(http.MethodPost, "/api/v1/secrets/reveal", s.authenticated(h.revealBatch))
	s.handle(http.MethodGet, "/api/v1/secrets/by-name/{name:.+}/reveal", s.authenticated(h.revealByName), "version")
	s.handle(http.MethodGet, "/api/v1/secrets/by-name/{name:.+}", s.authenticated(h.getByName), timeTravelQuery()...)
	s.handle(http.MethodPut, "/api/v1/secrets/{id:[0-9a-fA-F-]+}", s.authenticated(h.update))
	s.handle(http.MethodPost, "/api/v1/secrets/{id:[0-9a-fA-F-]+}/rollback", s.authenticated(h.rollback))
}

type updateSecretRequest struct {
	Description *string   `json:"description"`
	Tags        *[]string `json:"tags"`
}

type rollbackSecretRequest struct {
	Version int64 `json:"version"`
}

type revealBatchRequest struct {
	Names  []string `json:"names"`
	Prefix string   `json:"prefix"`
}

type revealedNamedJSON struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Value   string `json:"value"`
}

type revealRefusalJSON struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

type revealBatchJSON struct {
	Items   []revealedNamedJSON `json:"items"`
	Refused []revealRefusalJSON `json:"refused"`
}

func (h secretHandlers) getByName(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		sec, err := h.deps.Queries.GetByName(r.Context(), caller, mux.Vars(r)["name"], at)
		if err == nil && sec.At == nil {
			setSecretETag(w, sec.Value)
		}
		return masked(sec.Value), sec.At, err
	})
}

func (h secretHandlers) revealByName(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	version, err := revealVersion(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	rev, written, err := h.deps.Commands.RevealSecretByName(r.Context(), caller, mux.Vars(r)["name"], version)
	h.writeReveal(w, r, rev, written, err)
}

// revealVersion reads ?version= of a reveal; 0 (absent) is the current one.
func revealVersion(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("version")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, domain.Errorf(domain.EINVALID, "version must be a positive integer")
	}
	return n, nil
}

// writeReveal answers a reveal, wiping the value and the encoded body once
// written.
func (h secretHandlers) writeReveal(w http.ResponseWriter, r *http.Request, rev commands.RevealedSecret, written commands.Written, err error) {
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	body, err := json.Marshal(revealJSON{Value: string(rev.Value), Version: rev.Version})
	envelope.Zero(rev.Value)
	h.writeSensitive(w, r, written, body, err)
}

// writeSensitive writes an encoded body holding values, then clears it.
func (h secretHandlers) writeSensitive(w http.ResponseWriter, r *http.Request, written commands.Written, body []byte, err error) {
	if err != nil {
		h.s.writeError(w, r, domain.WrapError(domain.EINTERNAL, "encode reveal", err))
		return
	}
	setPosition(w, written.Position)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
	clear(body)
}

func (h secretHandlers) update(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	expected, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req updateSecretRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Commands.UpdateSecret(r.Context(), caller, commands.UpdateSecretInput{
		ID: mux.Vars(r)["id"], Description: req.Description, Tags: req.Tags, ExpectedVersion: expected,
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeSecretResult(w, http.StatusOK, res)
}

func (h secretHandlers) rollback(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	expected, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	var req rollbackSecretRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Commands.RollbackSecret(r.Context(), caller, commands.RollbackSecretInput{
		ID: mux.Vars(r)["id"], FromVersion: req.Version, ExpectedVersion: expected,
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeSecretResult(w, http.StatusOK, res)
}

func (h secretHandlers) revealBatch(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var req revealBatchRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, written, err := h.deps.Commands.RevealSecrets(r.Context(), caller, commands.RevealSecretsInput{
		Names: req.Names, Prefix: strings.TrimSpace(req.Prefix),
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out := revealBatchJSON{Items: make([]revealedNamedJSON, 0, len(res.Values)), Refused: make([]revealRefusalJSON, 0, len(res.Refused))}
	for _, v := range res.Values {
		out.Items = append(out.Items, revealedNamedJSON{Name: v.Name, ID: v.ID, Version: v.Version, Value: string(v.Value)})
	}
	res.Zero()
	for _, f := range res.Refused {
		out.Refused = append(out.Refused, revealRefusalJSON(f))
	}
	body, err := json.Marshal(out)
	h.writeSensitive(w, r, written, body, err)
}
