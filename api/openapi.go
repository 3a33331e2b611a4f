package api

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PathOpenAPI serves the OpenAPI document of the whole API.
const PathOpenAPI = "/api/v1/openapi.json"

// openAPIYAML is the contract, written by hand in YAML (comments, shared
// components) and served as JSON. cmd/vaultd's contract test holds it
// against the router and against real answers.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIDocument returns the OpenAPI document as JSON.
func OpenAPIDocument() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	// json.Marshal refuses a mapping with a key that is not a string (an
	// unquoted status code such as 200), which would otherwise decode as an
	// integer key.
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("api/openapi.yaml is not a JSON document (quote numeric keys such as \"200\"): %w", err)
	}
	return body, nil
}

// registerOpenAPI serves the document to anyone: it is the public contract
// and holds nothing secret. Unlike every other answer it may be cached, by
// any cache, provided the cache revalidates with the ETag each time, so a
// new deployment's contract is seen at once.
func (s *Server) registerOpenAPI() error {
	body, err := OpenAPIDocument()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	s.handle(http.MethodGet, PathOpenAPI, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "public, no-cache")
		h.Set("ETag", etag)
		if etagMatches(r.Header.Values("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	return nil
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 13.1.2):
// "*" or any listed tag equal to etag once a W/ prefix is dropped.
func etagMatches(ifNoneMatch []string, etag string) bool {
	for _, v := range ifNoneMatch {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag {
				return true
			}
		}
	}
	return false
}
