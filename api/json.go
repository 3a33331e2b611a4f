package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/securevault/vault/domain"
)

// writeJSON answers v as JSON. Encoding happens before the header is written
// so a value that cannot be encoded still gets a well-formed 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error: the response could not be encoded"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// decodeJSON reads the request body into dst under the server's body limit.
// The returned error carries a domain code and a message naming what is
// wrong; pass it to writeError.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeJSONLimit(w, r, dst, s.cfg.MaxBodyBytes)
}

// decodeJSONLimit is decodeJSON with an explicit limit, for endpoints that
// accept more (or less) than the default. The body is read whole (it is
// bounded), checked by checkStrictJSON against dst's type, and only then
// decoded, so every endpoint refuses duplicate keys, miscased or unknown
// fields and invalid UTF-8 the same way.
func decodeJSONLimit(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if err := requireJSONContent(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return decodeError(err)
	}
	// A second value (or garbage) after the first is rejected there too,
	// because a proxy and this server could otherwise disagree on what was
	// sent.
	if err := checkStrictJSON(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func requireJSONContent(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return domain.Errorf(domain.EUNSUPPORTED, "Content-Type must be application/json")
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		return domain.Errorf(domain.EUNSUPPORTED, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return domain.Errorf(domain.EUNSUPPORTED, "request body must be UTF-8 encoded")
	}
	return nil
}

// decodeError turns encoding/json's errors into caller-safe domain errors
// that name the offending field or byte offset.
func decodeError(err error) error {
	var (
		derr      *domain.Error
		maxBytes  *http.MaxBytesError
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		invalidUE *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &derr):
		// A field type's own UnmarshalJSON already spoke the domain's language.
		return derr
	case errors.As(err, &maxBytes):
		return domain.Errorf(domain.ETOOLARGE, "request body exceeds %d bytes", maxBytes.Limit)
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.EINVALID, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.EINVALID, "request body is truncated JSON")
	case errors.As(err, &syntax):
		return domain.Errorf(domain.EINVALID, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return domain.Errorf(domain.EINVALID, "request body must be a JSON %s", jsonKind(typeErr.Type))
		}
		return domain.Errorf(domain.EINVALID, "field %q must be %s", typeErr.Field, withArticle(jsonKind(typeErr.Type)))
	case errors.As(err, &invalidUE):
		return domain.WrapError(domain.EINTERNAL, "internal error", err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return domain.Errorf(domain.EINVALID, "unknown field %s", name)
	}
	return domain.WrapError(domain.EINVALID, "request body is not valid JSON for this endpoint", err)
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return fmt.Sprintf("value of type %s", t.Kind())
}

func withArticle(kind string) string {
	switch kind[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + kind
	}
	return "a " + kind
}
