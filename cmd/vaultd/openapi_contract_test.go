package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/config"
)

// kin-openapi decodes JSON, CSV and text bodies itself; an NDJSON export is
// validated as the array of its lines, as the document describes it. The
// registry is kin-openapi's own, so the decoder is registered once, here.
func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		lines := []any{}
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return nil, fmt.Errorf("line %d: %w", len(lines)+1, err)
			}
			lines = append(lines, v)
		}
		return lines, sc.Err()
	})
}

// contract is a running vaultd, the OpenAPI document it serves, and the
// record of what the scenario has exercised.
type contract struct {
	t      *testing.T
	inst   *instance
	doc    *openapi3.T
	router routers.Router
	// vars fill the {placeholders} of a step's path, query and body.
	vars map[string]string
	// tokens are the access tokens of the scenario's actors by name.
	tokens map[string]string
	// seen counts the statuses answered per operation ("GET /api/v1/...").
	seen map[string]map[int]int
}

// step is one request of the scenario and the status it must get. Path,
// query values, header values and string body fields may hold {name}
// placeholders, filled from the vars earlier steps captured.
type step struct {
	name    string
	as      string // an actor of contract.tokens; "" sends no token
	method  string
	path    string
	body    any    // sent as JSON unless raw is set
	raw     string // sent as is, with contentType
	ctype   string
	headers map[string]string
	status  int
	// capture reads the response into vars (ids, cursors, positions).
	capture func(c *contract, r *answer)
}

// answer is what the server sent back.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), string(a.body))
	return m
}

func (a *answer) errorMessage(t *testing.T) string {
	t.Helper()
	e, ok := a.json(t)["error"].(map[string]any)
	require.True(t, ok, string(a.body))
	msg, _ := e["message"].(string)
	return msg
}

func newContract(t *testing.T) *contract {
	t.Helper()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	// Only the account the scenario throttles on purpose may reach a limit.
	d.env[config.EnvLoginIPBurst] = "10000"
	d.env[config.EnvLoginAccountBurst] = "8"
	d.env[config.EnvSelfRegistration] = "true"
	d.env[config.EnvEmailRequestsPerHour] = "1000"
	d.env[config.EnvMaxFileBytes] = "1048576"
	inst := d.start(t)
	inst.awaitReady(t, 30*time.Second)

	// The document under test is the one the server serves.
	resp, err := http.Get(inst.baseURL + api.PathOpenAPI)
	require.NoError(t, err)
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(served))
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(served)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	require.True(t, doc.IsOpenAPI31OrLater(), "the document is OpenAPI %s", doc.OpenAPI)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &contract{
		t: t, inst: inst, doc: doc, router: router,
		vars: map[string]string{}, tokens: map[string]string{}, seen: map[string]map[int]int{},
	}
}

// fill replaces every {name} with vars[name]; an unknown name fails.
func (c *contract) fill(s string) string {
	c.t.Helper()
	for {
		start := strings.IndexByte(s, '{')
		if start < 0 {
			return s
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			return s
		}
		name := s[start+1 : start+end]
		v, ok := c.vars[name]
		require.True(c.t, ok, "no var %q for %q", name, s)
		s = s[:start] + v + s[start+end+1:]
	}
}

func (c *contract) fillBody(v any) any {
	switch x := v.(type) {
	case string:
		return c.fill(x)
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = c.fill(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = c.fillBody(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = c.fillBody(e)
		}
		return out
	}
	return v
}

// run sends the step, checks it against the document and returns the
// answer; a negative status skips the status assertion.
func (c *contract) run(s step) *answer {
	c.t.Helper()
	var body []byte
	ctype := s.ctype
	switch {
	case s.raw != "":
		body = []byte(s.raw)
	case s.body != nil:
		var err error
		body, err = json.Marshal(c.fillBody(s.body))
		require.NoError(c.t, err)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	target := c.inst.baseURL + c.fill(s.path)
	newRequest := func() *http.Request {
		req, err := http.NewRequest(s.method, target, bytes.NewReader(body))
		require.NoError(c.t, err)
		if body == nil {
			req.Body = http.NoBody
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if s.as != "" {
			token, ok := c.tokens[s.as]
			require.True(c.t, ok, "no token for %q", s.as)
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range s.headers {
			req.Header.Set(k, c.fill(v))
		}
		return req
	}
	req := newRequest()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(c.t, err)
	a := &answer{status: resp.StatusCode, header: resp.Header, body: data}
	c.validate(s, newRequest(), a)
	if s.status >= 0 {
		require.Equal(c.t, s.status, a.status, "%s: %s %s answered %s", s.name, s.method, target, data)
	}
	if s.capture != nil {
		s.capture(c, a)
	}
	return a
}

// validate holds one exchange against the document: the route must be
// documented under the template the server's router matched, the status
// must be documented for the operation, and the answer (status, headers,
// body) must validate. A request the server accepted must validate too.
func (c *contract) validate(s step, req *http.Request, a *answer) {
	c.t.Helper()
	route, pathParams, err := c.router.FindRoute(req)
	require.NoError(c.t, err, "%s: %s %s is not in the document", s.name, req.Method, req.URL.Path)
	var match mux.RouteMatch
	require.True(c.t, c.inst.app.server.Router().Match(req, &match) && match.MatchErr == nil, "%s: the server has no route for %s %s", s.name, req.Method, req.URL.Path)
	tpl, err := match.Route.GetPathTemplate()
	require.NoError(c.t, err)
	require.Equal(c.t, api.DocumentedPath(tpl), route.Path, "%s: the document matched another path template than the server", s.name)

	op := req.Method + " " + route.Path
	if c.seen[op] == nil {
		c.seen[op] = map[int]int{}
	}
	c.seen[op][a.status]++
	require.NotNil(c.t, route.Operation.Responses.Status(a.status), "%s: %s answered %d, which the document does not list for it: %s", s.name, op, a.status, a.body)

	input := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if a.status < 400 {
		require.NoError(c.t, openapi3filter.ValidateRequest(context.Background(), input), "%s: the server accepted a request the document refuses", s.name)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: a.status, Header: a.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(a.body)
	require.NoError(c.t, openapi3filter.ValidateResponse(context.Background(), out), "%s: %s %d: %s", s.name, op, a.status, a.body)

	// The response headers that mean something to a client of this API:
	// one that an answer carries must be documented for it.
	vaultHeaders := []string{api.HeaderPosition, api.HeaderAtPosition, "ETag", "Location", "Retry-After", "WWW-Authenticate", "Content-Disposition"}
	documented := route.Operation.Responses.Status(a.status).Value.Headers
	for _, h := range vaultHeaders {
		if a.header.Get(h) == "" {
			continue
		}
		_, ok := documented[h]
		if !ok {
			for name := range documented {
				ok = ok || textproto.CanonicalMIMEHeaderKey(name) == textproto.CanonicalMIMEHeaderKey(h)
			}
		}
		require.True(c.t, ok, "%s: %s %d sends %s, which the document does not list for it", s.name, op, a.status, h)
	}
}

// operations lists the documented operations as "METHOD /path".
func (c *contract) operations() map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	return ops
}

// parameters returns an operation's parameters of one location (path-level
// ones included), by name.
func (c *contract) parameters(key, in string) map[string]*openapi3.Parameter {
	method, path, _ := strings.Cut(key, " ")
	item := c.doc.Paths.Value(path)
	out := map[string]*openapi3.Parameter{}
	for _, refs := range []openapi3.Parameters{item.Parameters, item.GetOperation(method).Parameters} {
		for _, p := range refs {
			if p.Value.In == in {
				out[p.Value.Name] = p.Value
			}
		}
	}
	return out
}

// secured tells whether an operation needs a bearer token.
func (c *contract) secured(op *openapi3.Operation) bool {
	if op.Security != nil {
		return len(*op.Security) > 0
	}
	return len(c.doc.Security) > 0
}

// summary is the statuses each operation answered, for the log.
func (c *contract) summary() string {
	var b strings.Builder
	total := 0
	for _, op := range slices.Sorted(maps.Keys(c.seen)) {
		fmt.Fprintf(&b, "%-52s %v\n", op, slices.Sorted(maps.Keys(c.seen[op])))
		for _, n := range c.seen[op] {
			total += n
		}
	}
	fmt.Fprintf(&b, "%d answers validated over %d operations\n", total, len(c.seen))
	return b.String()
}
