package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// strictTestServer serves POST /test/policies, decoding into the real
// policy request type (statements are an array of nested objects) and
// echoing what it decoded.
func strictTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, Config{MaxBodyBytes: 4096})
	ts.handle(http.MethodPost, "/test/policies", func(w http.ResponseWriter, r *http.Request) {
		var in policyRequest
		if err := ts.decodeJSON(w, r, &in); err != nil {
			ts.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
	return ts
}

func postStrict(ts *testServer, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/test/policies", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return ts.do(req)
}

// encoding/json lets the last of two equal keys win; a proxy or WAF that
// reads the first one then judges another request than the one we serve.
func TestJSONDuplicateKeyAnswers400(t *testing.T) {
	t.Parallel()
	ts := strictTestServer(t)
	cases := []struct {
		name, body, message string
	}{
		{"top level", `{"name":"readers","name":"admin"}`, `duplicate key "name"`},
		{"spelled with an escape", `{"name":"readers","n\u0061me":"admin"}`, `duplicate key "name"`},
		{"inside an array of objects", `{"statements":[{"effect":"deny","effect":"allow","actions":["read"],"resources":["**"]}]}`,
			`duplicate key "effect" in statements[0]`},
		{"in a later element", `{"statements":[{"effect":"deny"},{"actions":[],"actions":["*"]}]}`,
			`duplicate key "actions" in statements[1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := postStrict(ts, tc.body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			body := decodeErrorBody(t, rec)
			require.Equal(t, domain.EINVALID, body.Code)
			require.Contains(t, body.Message, tc.message)
		})
	}
}

// encoding/json matches keys case-insensitively, so "NAME" would set name.
func TestJSONKeyInWrongCaseAnswers400(t *testing.T) {
	t.Parallel()
	ts := strictTestServer(t)
	cases := []struct {
		name, body, message string
	}{
		{"alone", `{"NAME":"admin"}`, `field "NAME" must be spelled "name"`},
		{"after the right spelling", `{"name":"readers","Name":"admin"}`, `field "Name" must be spelled "name"`},
		{"nested in statements", `{"statements":[{"Effect":"allow"}]}`, `field "Effect" in statements[0] must be spelled "effect"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := postStrict(ts, tc.body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			body := decodeErrorBody(t, rec)
			require.Equal(t, domain.EINVALID, body.Code)
			require.Contains(t, body.Message, tc.message)
		})
	}
}

// encoding/json replaces invalid UTF-8 with U+FFFD without a word, so a
// name or pattern would be stored as something the client never sent.
func TestJSONBodyWithInvalidUTF8Answers400(t *testing.T) {
	t.Parallel()
	ts := strictTestServer(t)
	for name, body := range map[string]string{
		"in a value":      "{\"description\":\"caf\xe9\"}",
		"in a key":        "{\"na\xffme\":\"x\"}",
		"overlong NUL":    "{\"name\":\"a\xc0\x80b\"}",
		"lone surrogate":  "{\"name\":\"\xed\xa0\x80\"}",
		"nested resource": "{\"statements\":[{\"effect\":\"allow\",\"actions\":[\"read\"],\"resources\":[\"secrets/a\xffb\"]}]}",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := postStrict(ts, body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			require.Contains(t, decodeErrorBody(t, rec).Message, "not valid UTF-8")
		})
	}
}

func TestJSONStrictDecoderKeepsTheOtherChecks(t *testing.T) {
	t.Parallel()
	ts := strictTestServer(t)
	cases := []struct {
		name, body string
		status     int
		message    string
	}{
		{"valid nested", `{"name":"readers","statements":[{"effect":"allow","actions":["read"],"resources":["secrets/**"]}]}`, 200, ""},
		{"escaped surrogate pair", `{"description":"\ud83d\ude00 \\ud800"}`, 200, ""},
		{"lone high surrogate escape", `{"description":"\ud800"}`, 400, "unpaired UTF-16 surrogate"},
		{"lone low surrogate escape", `{"description":"x\udc00"}`, 400, "unpaired UTF-16 surrogate"},
		{"high surrogate before a non-surrogate", `{"description":"\ud800\u0041"}`, 400, "unpaired UTF-16 surrogate"},
		{"unknown nested field", `{"statements":[{"effect":"allow","condition":"x"}]}`, 400, `unknown field "condition" in statements[0]`},
		{"too deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), 400, "deeper than"},
		{"deep inside a field", `{"description":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, 400, "deeper than"},
		{"truncated inside an array", `{"statements":[{"effect":"allow"`, 400, "truncated"},
		{"two values", `{"name":"a"} {"name":"b"}`, 400, "single JSON value"},
		{"over the limit", `{"description":"` + strings.Repeat("x", 5000) + `"}`, 413, "exceeds 4096 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := postStrict(ts, tc.body)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.message != "" {
				require.Contains(t, decodeErrorBody(t, rec).Message, tc.message)
			}
		})
	}
}
