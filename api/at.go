package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
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

// readAt reads which state a request asks for: as_of or at_position from
// the query (a past instant), X-Vault-Min-Position for a read of the
// present. Which source answers is the query's business, not the
// handler's. The route's declared query (timeTravelQuery) has already
// refused unknown parameters.
func readAt(r *http.Request) (queries.At, error) {
	var at queries.At
	q := r.URL.Query()
	if q.Has(paramAsOf) {
		t, err := parseTime(paramAsOf, q.Get(paramAsOf))
		if err != nil {
			return at, err
		}
		at.Time = &t
	}
	if q.Has(paramAtPosition) {
		n, err := parsePosition(paramAtPosition, q.Get(paramAtPosition))
		if err != nil {
			return at, err
		}
		at.Position = &n
	}
	n, err := minPosition(r)
	if err != nil {
		return at, err
	}
	at.MinPosition = n
	return at, nil
}

// serveAt answers a read that may be of a past instant: it reads which
// state the request asks for (readAt), runs read, names the instant the
// answer shows (X-Vault-At-Position, for a past one) and writes the body.
func (s *Server) serveAt(w http.ResponseWriter, r *http.Request, read func(at queries.At) (body any, shown *queries.Instant, err error)) {
	at, err := readAt(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, shown, err := read(at)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setAtPosition(w, shown)
	writeJSON(w, http.StatusOK, body)
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

// parsePoint reads a diff bound: a position when it is all digits,
// otherwise an RFC 3339 time.
func parsePoint(param, v string) (queries.At, error) {
	if v != "" && strings.Trim(v, "0123456789") == "" {
		n, err := parsePosition(param, v)
		if err != nil {
			return queries.At{}, err
		}
		return queries.At{Position: &n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return queries.At{}, domain.Errorf(domain.EINVALID, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z or a log position", param)
	}
	return queries.At{Time: &t}, nil
}

// setAtPosition names the instant an answer shows, when it shows a past
// one.
func setAtPosition(w http.ResponseWriter, at *queries.Instant) {
	if at != nil {
		w.Header().Set(HeaderAtPosition, strconv.FormatInt(at.Position, 10))
	}
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

// historyInput reads the paging of a history request (?limit=, ?cursor=),
// the same for every versioned kind.
func historyInput(q url.Values) (queries.HistoryInput, error) {
	in := queries.HistoryInput{Cursor: q.Get("cursor")}
	var err error
	in.Limit, err = optionalInt(q, "limit")
	return in, err
}

// diffInput reads the bounds of a diff request: ?from= is required, ?to=
// defaults to now; each is a time or a log position.
func diffInput(q url.Values) (queries.SecretDiffInput, error) {
	var (
		in  queries.SecretDiffInput
		err error
	)
	if !q.Has("from") {
		return in, domain.Errorf(domain.EINVALID, "from is required: an RFC 3339 time or a log position")
	}
	if in.From, err = parsePoint("from", q.Get("from")); err != nil {
		return in, err
	}
	if q.Has("to") {
		if in.To, err = parsePoint("to", q.Get("to")); err != nil {
			return in, err
		}
	}
	return in, nil
}
