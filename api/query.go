package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/securevault/vault/domain"
)

// Endpoint is one registered route: its method, its path template and the
// query parameters its handler reads. Every other parameter is refused
// before the handler runs, unless AnyQuery says the route ignores its query
// string (the probes and the scrape, whose callers add parameters the
// operator does not control).
type Endpoint struct {
	Method   string
	Path     string
	Query    []string
	AnyQuery bool
}

// Endpoints lists the routes in registration order, for the contract test
// that holds them against the OpenAPI document.
func (s *Server) Endpoints() []Endpoint {
	out := make([]Endpoint, len(s.endpoints))
	for i, e := range s.endpoints {
		e.Query = slices.Clone(e.Query)
		out[i] = e
	}
	return out
}

// DocumentedPath is a route template as the OpenAPI document writes it:
// "{name:.+}" (a variable that may span segments) becomes "{name}".
func DocumentedPath(tpl string) string {
	var b strings.Builder
	for {
		start := strings.IndexByte(tpl, '{')
		if start < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		end := strings.IndexByte(tpl[start:], '}')
		if end < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		name, _, _ := strings.Cut(tpl[start+1:start+end], ":")
		b.WriteString(tpl[:start] + "{" + name + "}")
		tpl = tpl[start+end+1:]
	}
}

// timeTravelQuery is the query of a read that also answers as of a past
// instant: as_of or at_position, plus the read's own parameters.
func timeTravelQuery(params ...string) []string {
	return append([]string{paramAsOf, paramAtPosition}, params...)
}

// handle registers a route for one method. Endpoint files use it so every
// route has a path template for metrics, a method for 405 answers, and a
// declared query: query names the parameters the handler reads, and any
// other parameter, a parameter given twice or a malformed query string is
// a 400 before the handler runs, so a misspelt filter never silently widens
// an answer.
func (s *Server) handle(method, path string, h http.HandlerFunc, query ...string) {
	allowed := slices.Clone(query)
	s.endpoints = append(s.endpoints, Endpoint{Method: method, Path: DocumentedPath(path), Query: allowed})
	s.router.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if _, err := strictQuery(r.URL.RawQuery, allowed); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	}).Methods(method)
}

// handleAnyQuery registers a route that ignores its query string.
func (s *Server) handleAnyQuery(method, path string, h http.Handler) {
	s.endpoints = append(s.endpoints, Endpoint{Method: method, Path: path, AnyQuery: true})
	s.router.Handle(path, h).Methods(method)
}

// strictQuery parses a raw query string, refusing a malformed one,
// parameters not in allowed, and any given more than once.
func strictQuery(rawQuery string, allowed []string) (url.Values, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "the query string is malformed")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, domain.Errorf(domain.EINVALID, "unknown query parameter %q; this endpoint takes none", clipParam(k))
			}
			return nil, domain.Errorf(domain.EINVALID, "unknown query parameter %q; allowed: %s", clipParam(k), strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 {
			return nil, domain.Errorf(domain.EINVALID, "query parameter %q is given more than once", k)
		}
	}
	return q, nil
}

func clipParam(k string) string {
	if len(k) > 40 {
		return k[:40] + "…"
	}
	return k
}
