package api

import (
	"context"
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/projections/identity"
)

// identityList is a page of an identity read model, filtered to what the
// caller may see.
type identityList[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// serveIdentityList answers a current-state list of users, roles or
// policies: page parameters, the optional X-Vault-Min-Position wait, one page
// of the read model, and the permission filter. The cursor follows the last
// row read, not the last shown, so rows hidden from the caller never stall
// paging.
func serveIdentityList[T any](h identityHandlers, w http.ResponseWriter, r *http.Request,
	list func(context.Context, identity.ListParams) ([]T, error), visible func(T) bool, key func(T) string) {
	p, err := listPage(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.awaitMinPosition(r, commands.IdentityReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	rows, err := list(r.Context(), p)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out := identityList[T]{Items: []T{}}
	for _, row := range rows {
		if visible(row) {
			out.Items = append(out.Items, row)
		}
	}
	if len(rows) > 0 {
		out.NextCursor = nextCursor(p, len(rows), key(rows[len(rows)-1]))
	}
	writeJSON(w, http.StatusOK, out)
}

// serveIdentityGet answers one user, role or policy from the read model once
// authorize (which records a refusal) lets the caller see it.
func serveIdentityGet[T any](h identityHandlers, w http.ResponseWriter, r *http.Request, idField string,
	get func(context.Context, string) (T, error), authorize func(T) error) {
	id, err := pathID(r, idField)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.awaitMinPosition(r, commands.IdentityReadModel); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	row, err := get(r.Context(), id)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := authorize(row); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, row)
}
