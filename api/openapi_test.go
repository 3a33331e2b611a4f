package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// The document loads and validates as OpenAPI 3.1 with kin-openapi, with
// its examples and patterns checked too. cmd/vaultd's TestOpenAPIContract
// holds it against the router and real answers.
func TestOpenAPIDocumentIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	body, err := OpenAPIDocument()
	require.NoError(t, err)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaPatternValidation()))

	// The YAML anchors that share error responses are resolved before it
	// is served: no merge key reaches a client.
	require.NotContains(t, string(body), `"<<"`)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			require.NotNil(t, op.Responses, "%s %s", method, path)
			require.Nil(t, op.Responses.Default(), "%s %s: a default response would hide undocumented statuses", method, path)
			require.NotEmpty(t, op.OperationID, "%s %s", method, path)
		}
	}
}

// The document is public and cacheable by ETag, unlike every other answer.
func TestOpenAPIServedPubliclyWithETag(t *testing.T) {
	t.Parallel()
	s, err := New(Config{}, Deps{})
	require.NoError(t, err)
	want, err := OpenAPIDocument()
	require.NoError(t, err)

	get := func(headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, PathOpenAPI, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	first := get()
	require.Equal(t, http.StatusOK, first.Code)
	require.Equal(t, "application/json", first.Header().Get("Content-Type"))
	require.Equal(t, "public, no-cache", first.Header().Get("Cache-Control"))
	require.JSONEq(t, string(want), first.Body.String())
	etag := first.Header().Get("ETag")
	require.Regexp(t, `^"[0-9a-f]{32}"$`, etag)

	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{"same tag", etag, http.StatusNotModified},
		{"weak form of the tag", "W/" + etag, http.StatusNotModified},
		{"tag in a list", `"other", ` + etag, http.StatusNotModified},
		{"any", "*", http.StatusNotModified},
		{"another tag", `"0123"`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get("If-None-Match", tt.ifNoneMatch)
			require.Equal(t, tt.status, rec.Code)
			require.Equal(t, etag, rec.Header().Get("ETag"))
			if tt.status == http.StatusNotModified {
				require.Empty(t, rec.Body.String())
			}
		})
	}
}

// Every route refuses query parameters it does not read, except the probes
// and the scrape, which ignore theirs.
func TestRoutesRefuseUndeclaredQueryParameters(t *testing.T) {
	t.Parallel()
	s, err := New(Config{}, Deps{})
	require.NoError(t, err)
	tests := []struct {
		name, target string
		status       int
		message      string
	}{
		{"unknown parameter", PathOpenAPI + "?colour=red", http.StatusBadRequest, `unknown query parameter "colour"; this endpoint takes none`},
		{"malformed query string", PathOpenAPI + "?a=%zz", http.StatusBadRequest, "the query string is malformed"},
		{"liveness ignores its query", "/healthz?probe=1", http.StatusOK, ""},
		{"readiness ignores its query", "/readyz?probe=1", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.message != "" {
				var body errorBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				require.Equal(t, tt.message, body.Error.Message)
			}
		})
	}
	var endpoints []string
	for _, e := range s.Endpoints() {
		endpoints = append(endpoints, e.Method+" "+e.Path)
	}
	require.ElementsMatch(t, []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET " + PathOpenAPI}, endpoints)
}
