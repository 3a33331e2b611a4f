package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// Time-travel query parameters: every read of secrets, users, roles and
// policies accepts one of them and answers the state at that instant.
const (
	paramAsOf       = "as_of"
	paramAtPosition = "at_position"
)

// HeaderAtPosition reports the log position a time-travel answer shows the
// state at, so a client that asked for a time can repeat the exact read.
const HeaderAtPosition = "X-Vault-At-Position"

// wantsTimeTravel routes a read to the time-travel handler instead of the
// read model.
func wantsTimeTravel(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has(paramAsOf) || q.Has(paramAtPosition)
}

// parseTime reads an RFC 3339 time (fractional seconds allowed).
func parseTime(param, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, domain.Errorf(domain.EINVALID, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", param)
	}
	return t, nil
}

// parsePosition reads a log position.
func parsePosition(param, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, domain.Errorf(domain.EINVALID, "%s must be a non-negative integer log position", param)
	}
	return n, nil
}

// parseAsOf reads as_of or at_position from the query.
func parseAsOf(q url.Values) (commands.AsOf, error) {
	var in commands.AsOf
	if q.Has(paramAsOf) && q.Has(paramAtPosition) {
		return in, domain.Errorf(domain.EINVALID, "give as_of or at_position, not both")
	}
	if q.Has(paramAsOf) {
		t, err := parseTime(paramAsOf, q.Get(paramAsOf))
		if err != nil {
			return in, err
		}
		in.Time = &t
	}
	if q.Has(paramAtPosition) {
		n, err := parsePosition(paramAtPosition, q.Get(paramAtPosition))
		if err != nil {
			return in, err
		}
		in.Position = &n
	}
	return in, nil
}

// parsePoint reads a diff bound: a position when it is all digits,
// otherwise an RFC 3339 time.
func parsePoint(param, v string) (commands.AsOf, error) {
	if v != "" && strings.Trim(v, "0123456789") == "" {
		n, err := parsePosition(param, v)
		if err != nil {
			return commands.AsOf{}, err
		}
		return commands.AsOf{Position: &n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return commands.AsOf{}, domain.Errorf(domain.EINVALID, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z or a log position", param)
	}
	return commands.AsOf{Time: &t}, nil
}

// instant resolves the instant the query asks for; without as_of or
// at_position it is the head. The route's declared query (timeTravelQuery)
// has already refused unknown parameters.
func instant(r *http.Request, tt *commands.TimeTravel) (commands.Instant, error) {
	if tt == nil {
		return commands.Instant{}, domain.Errorf(domain.EUNAVAILABLE, "time travel is not configured on this server")
	}
	in, err := parseAsOf(r.URL.Query())
	if err != nil {
		return commands.Instant{}, err
	}
	if in.Time == nil && in.Position == nil {
		return tt.Head(r.Context())
	}
	return tt.Resolve(r.Context(), in)
}

func setAtPosition(w http.ResponseWriter, at commands.Instant) {
	w.Header().Set(HeaderAtPosition, strconv.FormatInt(at.Position, 10))
}

// optionalInt reads an optional positive integer parameter.
func optionalInt(q url.Values, param string) (int, error) {
	v := q.Get(param)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, domain.Errorf(domain.EINVALID, "%s must be a positive integer", param)
	}
	return n, nil
}

// Secrets.

type secretListAtJSON struct {
	Items      []secretJSON `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
	commands.Instant
}

type secretVersionsAtJSON struct {
	Items []domain.SecretVersionInfo `json:"items"`
	commands.Instant
}

type secretHistoryJSON struct {
	SecretID   string                  `json:"secret_id"`
	Items      []commands.HistoryEntry `json:"items"`
	NextCursor string                  `json:"next_cursor,omitempty"`
	commands.Instant
}

func (h secretHandlers) mountTimeTravel() {
	h.s.handle(http.MethodGet, "/api/v1/secrets/{id}/history", h.history, timeTravelQuery("limit", "cursor")...)
	h.s.handle(http.MethodGet, "/api/v1/secrets/{id}/diff", h.diff, "from", "to")
}

// timeTravelCaller authenticates, then resolves the instant.
func (h secretHandlers) timeTravelCaller(w http.ResponseWriter, r *http.Request) (commands.Caller, commands.Instant, bool) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return commands.Caller{}, commands.Instant{}, false
	}
	at, err := instant(r, h.deps.TimeTravel)
	if err != nil {
		h.s.writeError(w, r, err)
		return commands.Caller{}, commands.Instant{}, false
	}
	return caller, at, true
}

func (h secretHandlers) getAt(w http.ResponseWriter, r *http.Request) {
	caller, at, ok := h.timeTravelCaller(w, r)
	if !ok {
		return
	}
	sec, err := h.deps.TimeTravel.SecretAt(r.Context(), caller, mux.Vars(r)["id"], at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, masked(sec))
}

func (h secretHandlers) versionsAt(w http.ResponseWriter, r *http.Request) {
	caller, at, ok := h.timeTravelCaller(w, r)
	if !ok {
		return
	}
	vs, err := h.deps.TimeTravel.SecretVersionsAt(r.Context(), caller, mux.Vars(r)["id"], at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, secretVersionsAtJSON{Items: vs, Instant: at})
}

func (h secretHandlers) listAt(w http.ResponseWriter, r *http.Request) {
	caller, at, ok := h.timeTravelCaller(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	in := commands.SecretListInput{Prefix: q.Get("prefix"), Tag: q.Get("tag"), Cursor: q.Get("cursor")}
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
	page, err := h.deps.TimeTravel.ListSecretsAt(r.Context(), caller, in, at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out := secretListAtJSON{Items: make([]secretJSON, 0, len(page.Items)), NextCursor: page.NextCursor, Instant: at}
	for _, it := range page.Items {
		out.Items = append(out.Items, masked(it))
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, out)
}

// history answers the timeline of a secret, oldest first, paged by
// position; as_of or at_position bound it.
func (h secretHandlers) history(w http.ResponseWriter, r *http.Request) {
	caller, at, ok := h.timeTravelCaller(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var (
		in  commands.HistoryInput
		err error
	)
	if in.Limit, err = optionalInt(q, "limit"); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if v := q.Get("cursor"); v != "" {
		if in.Cursor, err = parsePosition("cursor", v); err != nil {
			h.s.writeError(w, r, err)
			return
		}
	}
	id := mux.Vars(r)["id"]
	page, err := h.deps.TimeTravel.SecretHistory(r.Context(), caller, id, in, at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out := secretHistoryJSON{SecretID: id, Items: page.Items, Instant: at}
	if page.NextCursor > 0 {
		out.NextCursor = strconv.FormatInt(page.NextCursor, 10)
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, out)
}

// diff answers what changed between ?from= and ?to= (each a time or a
// position; to defaults to now).
func (h secretHandlers) diff(w http.ResponseWriter, r *http.Request) {
	caller, err := h.caller(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if h.deps.TimeTravel == nil {
		h.s.writeError(w, r, domain.Errorf(domain.EUNAVAILABLE, "time travel is not configured on this server"))
		return
	}
	q := r.URL.Query()
	if !q.Has("from") {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "from is required: an RFC 3339 time or a log position"))
		return
	}
	var in commands.SecretDiffInput
	if in.From, err = parsePoint("from", q.Get("from")); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if q.Has("to") {
		if in.To, err = parsePoint("to", q.Get("to")); err != nil {
			h.s.writeError(w, r, err)
			return
		}
	}
	d, err := h.deps.TimeTravel.SecretDiff(r.Context(), caller, mux.Vars(r)["id"], in)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, d.To)
	writeJSON(w, http.StatusOK, d)
}

// Users, roles and policies.

type identityListAtJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	commands.Instant
}

func identityListInput(q url.Values) (commands.IdentityListInput, error) {
	in := commands.IdentityListInput{Prefix: q.Get("name"), Cursor: q.Get("cursor")}
	var err error
	in.Limit, err = optionalInt(q, "limit")
	return in, err
}

// identityGetAt answers one user, role or policy at the requested instant.
func identityGetAt[T any](h identityHandlers, w http.ResponseWriter, r *http.Request, caller commands.Caller, field string,
	get func(tt *commands.TimeTravel, caller commands.Caller, id string, at commands.Instant) (T, error)) {
	id, err := pathID(r, field)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	at, err := instant(r, h.deps.TimeTravel)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	v, err := get(h.deps.TimeTravel, caller, id, at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, v)
}

// identityListAt answers a page of users, roles or policies at the requested
// instant, in id order.
func identityListAt[T any](h identityHandlers, w http.ResponseWriter, r *http.Request, caller commands.Caller,
	list func(tt *commands.TimeTravel, caller commands.Caller, in commands.IdentityListInput, at commands.Instant) (commands.IdentityPage[T], error)) {
	at, err := instant(r, h.deps.TimeTravel)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	in, err := identityListInput(r.URL.Query())
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	page, err := list(h.deps.TimeTravel, caller, in, at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, identityListAtJSON[T]{Items: page.Items, NextCursor: page.NextCursor, Instant: at})
}

func (h identityHandlers) getUserAt(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	identityGetAt(h, w, r, caller, "user id", func(tt *commands.TimeTravel, c commands.Caller, id string, at commands.Instant) (commands.UserAt, error) {
		return tt.UserAt(r.Context(), c, id, at)
	})
}

func (h identityHandlers) listUsersAt(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	identityListAt(h, w, r, caller, func(tt *commands.TimeTravel, c commands.Caller, in commands.IdentityListInput, at commands.Instant) (commands.IdentityPage[commands.UserAt], error) {
		return tt.ListUsersAt(r.Context(), c, in, at)
	})
}

func (h identityHandlers) getRoleAt(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	identityGetAt(h, w, r, caller, "role id", func(tt *commands.TimeTravel, c commands.Caller, id string, at commands.Instant) (commands.RoleAt, error) {
		return tt.RoleAt(r.Context(), c, id, at)
	})
}

func (h identityHandlers) listRolesAt(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	identityListAt(h, w, r, caller, func(tt *commands.TimeTravel, c commands.Caller, in commands.IdentityListInput, at commands.Instant) (commands.IdentityPage[commands.RoleAt], error) {
		return tt.ListRolesAt(r.Context(), c, in, at)
	})
}

func (h identityHandlers) getPolicyAt(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	identityGetAt(h, w, r, caller, "policy id", func(tt *commands.TimeTravel, c commands.Caller, id string, at commands.Instant) (commands.PolicyAt, error) {
		return tt.PolicyAt(r.Context(), c, id, at)
	})
}

func (h identityHandlers) listPoliciesAt(w http.ResponseWriter, r *http.Request, caller commands.Caller) {
	identityListAt(h, w, r, caller, func(tt *commands.TimeTravel, c commands.Caller, in commands.IdentityListInput, at commands.Instant) (commands.IdentityPage[commands.PolicyAt], error) {
		return tt.ListPoliciesAt(r.Context(), c, in, at)
	})
}

// checkAccessAt answers an access check as of the instant in the body.
func (h identityHandlers) checkAccessAt(w http.ResponseWriter, r *http.Request, caller commands.Caller, req authzCheckRequest) {
	if h.deps.TimeTravel == nil {
		h.s.writeError(w, r, domain.Errorf(domain.EUNAVAILABLE, "time travel is not configured on this server"))
		return
	}
	if req.AsOf != nil && req.AtPosition != nil {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "give as_of or at_position, not both"))
		return
	}
	var in commands.AsOf
	if req.AsOf != nil {
		t, err := parseTime(paramAsOf, *req.AsOf)
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		in.Time = &t
	}
	in.Position = req.AtPosition
	at, err := h.deps.TimeTravel.Resolve(r.Context(), in)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	check, err := h.deps.TimeTravel.CheckAccessAt(r.Context(), caller, req.UserID, req.Action, req.Resource, at)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, at)
	writeJSON(w, http.StatusOK, check)
}
