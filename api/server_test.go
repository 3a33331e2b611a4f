package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// syncBuffer collects log output; handlers may log from other goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*Server
	logs *syncBuffer
	reg  *prometheus.Registry
}

func newTestServer(t *testing.T, cfg Config, checks ...ReadyCheck) *testServer {
	t.Helper()
	return newTestServerDeps(t, cfg, Deps{ReadyChecks: checks})
}

func newTestServerDeps(t *testing.T, cfg Config, deps Deps) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	deps.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps.Registerer, deps.Gatherer = reg, reg
	s, err := New(cfg, deps)
	require.NoError(t, err)
	return &testServer{Server: s, logs: logs, reg: reg}
}

func (ts *testServer) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	ts.Handler().ServeHTTP(rec, req)
	return rec
}

func decodeErrorBody(t *testing.T, rec *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body.Error
}

func TestErrorStatusTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"invalid", domain.Errorf(domain.EINVALID, "bad name"), 400, domain.EINVALID, "bad name"},
		{"unauthorized", domain.Errorf(domain.EUNAUTHORIZED, "no token"), 401, domain.EUNAUTHORIZED, "no token"},
		{"forbidden", domain.Errorf(domain.EFORBIDDEN, "denied"), 403, domain.EFORBIDDEN, "denied"},
		{"not found", domain.Errorf(domain.ENOTFOUND, "no secret"), 404, domain.ENOTFOUND, "no secret"},
		{"conflict", domain.Errorf(domain.ECONFLICT, "name taken"), 409, domain.ECONFLICT, "name taken"},
		{"gone", domain.Errorf(domain.EGONE, "destroyed"), 410, domain.EGONE, "destroyed"},
		{"precondition", domain.Errorf(domain.EPRECONDITION, "stale"), 412, domain.EPRECONDITION, "stale"},
		{"too large", domain.Errorf(domain.ETOOLARGE, "big"), 413, domain.ETOOLARGE, "big"},
		{"unsupported", domain.Errorf(domain.EUNSUPPORTED, "xml"), 415, domain.EUNSUPPORTED, "xml"},
		{"unprocessable", domain.Errorf(domain.EUNPROCESSABLE, "weak password"), 422, domain.EUNPROCESSABLE, "weak password"},
		{"rate limited", domain.Errorf(domain.ERATELIMIT, "slow down"), 429, domain.ERATELIMIT, "slow down"},
		{"unavailable", domain.WrapError(domain.EUNAVAILABLE, "try later", errors.New("dial tcp 10.0.0.5:5432")), 503, domain.EUNAVAILABLE, "try later"},
		{"wrapped domain error", fmt.Errorf("load: %w", domain.Errorf(domain.ENOTFOUND, "no user")), 404, domain.ENOTFOUND, "no user"},
		{"unknown code", domain.Errorf("weird", "odd"), 500, domain.EINTERNAL, "internal error"},
		{"plain error", errors.New(`pq: relation "events" password=hunter2`), 500, domain.EINTERNAL, "internal error"},
		{"internal with message", domain.WrapError(domain.EINTERNAL, "insert failed at row 7", errors.New("boom")), 500, domain.EINTERNAL, "internal error"},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), 503, domain.EUNAVAILABLE, "request canceled"},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, domain.EUNAVAILABLE, "timed out"},
	}
	ts := newTestServer(t, Config{})
	for i, tc := range cases {
		path := fmt.Sprintf("/test/error/%d", i)
		ts.handle(http.MethodGet, path, func(w http.ResponseWriter, r *http.Request) { ts.writeError(w, r, tc.err) })
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/test/error/%d", i), nil)
			req.Header.Set(HeaderRequestID, fmt.Sprintf("err-case-%d", i))
			rec := ts.do(req)
			require.Equal(t, tc.status, rec.Code)
			body := decodeErrorBody(t, rec)
			require.Equal(t, tc.code, body.Code)
			require.Contains(t, body.Message, tc.message)
			require.NotContains(t, rec.Body.String(), "hunter2")
			require.NotContains(t, rec.Body.String(), "10.0.0.5")
			require.NotContains(t, rec.Body.String(), "row 7")
			if tc.code == domain.EINTERNAL {
				require.Contains(t, body.Message, fmt.Sprintf("err-case-%d", i), "the generic message names the request id")
				require.Contains(t, ts.logs.String(), fmt.Sprintf(`"request_id":"err-case-%d"`, i), "internal errors are logged with the request id")
			}
		})
	}
}

func TestEveryDomainCodeHasAStatus(t *testing.T) {
	t.Parallel()
	codes := []string{domain.ECONFLICT, domain.EINTERNAL, domain.EINVALID, domain.EUNPROCESSABLE, domain.ENOTFOUND,
		domain.EUNAUTHORIZED, domain.EFORBIDDEN, domain.ETOOLARGE, domain.ERATELIMIT, domain.EUNAVAILABLE,
		domain.EPRECONDITION, domain.EGONE, domain.EUNSUPPORTED}
	for _, code := range codes {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			_, ok := errorStatus[code]
			require.True(t, ok, "code %q has no HTTP status", code)
		})
	}
}

type createThing struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Tags  []string          `json:"tags"`
	Inner struct{ On bool } `json:"inner"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxBodyBytes: 64})
	ts.handle(http.MethodPost, "/test/things", func(w http.ResponseWriter, r *http.Request) {
		var in createThing
		if err := ts.decodeJSON(w, r, &in); err != nil {
			ts.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, in)
	})
	cases := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		message     string
	}{
		{"valid", "application/json", `{"name":"a","count":2}`, 201, "", ""},
		{"valid with charset and trailing whitespace", "application/json; charset=UTF-8", "{\"name\":\"a\"}\n \n", 201, "", ""},
		{"unknown field", "application/json", `{"name":"a","colour":"red"}`, 400, domain.EINVALID, `unknown field "colour"`},
		{"wrong type names field", "application/json", `{"name":5}`, 400, domain.EINVALID, `field "name" must be a string`},
		{"wrong nested type names path", "application/json", `{"inner":{"On":"yes"}}`, 400, domain.EINVALID, `"inner.On" must be a boolean`},
		{"not an object", "application/json", `[1,2]`, 400, domain.EINVALID, "must be a JSON object"},
		{"trailing object", "application/json", `{"name":"a"}{"name":"b"}`, 400, domain.EINVALID, "single JSON value"},
		{"trailing garbage", "application/json", `{"name":"a"} x`, 400, domain.EINVALID, "single JSON value"},
		{"trailing empty object", "application/json", `{"name":"a"}{}`, 400, domain.EINVALID, "single JSON value"},
		{"syntax error", "application/json", `{"name":}`, 400, domain.EINVALID, "malformed JSON at byte"},
		{"truncated", "application/json", `{"name":"a"`, 400, domain.EINVALID, "truncated"},
		{"empty body", "application/json", ``, 400, domain.EINVALID, "empty"},
		{"over the limit", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, domain.ETOOLARGE, "exceeds 64 bytes"},
		{"over the limit in trailing data", "application/json", `{"name":"a"}` + strings.Repeat(" ", 60) + `{"name":"b"}`, 413, domain.ETOOLARGE, "exceeds 64 bytes"},
		{"wrong content type", "text/plain", `{"name":"a"}`, 415, domain.EUNSUPPORTED, "application/json"},
		{"missing content type", "", `{"name":"a"}`, 415, domain.EUNSUPPORTED, "application/json"},
		{"wrong charset", "application/json; charset=latin1", `{"name":"a"}`, 415, domain.EUNSUPPORTED, "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/test/things", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := ts.do(req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.code == "" {
				return
			}
			body := decodeErrorBody(t, rec)
			require.Equal(t, tc.code, body.Code)
			require.Contains(t, body.Message, tc.message)
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	seen := make(chan string, 16)
	ts.handle(http.MethodGet, "/test/id", func(w http.ResponseWriter, r *http.Request) {
		seen <- MetadataFrom(r.Context()).RequestID
		w.WriteHeader(http.StatusNoContent)
	})
	cases := []struct {
		name     string
		incoming string
		kept     bool
	}{
		{"sane id is kept", "abc-123_def.ghi:7", true},
		{"missing id is generated", "", false},
		{"id with a newline is replaced", "abc\nfake log line", false},
		{"id with spaces is replaced", "a b", false},
		{"overlong id is replaced", strings.Repeat("a", 129), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/test/id", nil)
			if tc.incoming != "" {
				req.Header[HeaderRequestID] = []string{tc.incoming}
			}
			rec := ts.do(req)
			got := rec.Header().Get(HeaderRequestID)
			require.Equal(t, got, <-seen, "the handler sees the echoed id")
			if tc.kept {
				require.Equal(t, tc.incoming, got)
				return
			}
			require.NotEqual(t, tc.incoming, got)
			require.True(t, validRequestID(got))
			require.GreaterOrEqual(t, len(got), 20, "generated ids carry enough randomness")
		})
	}
	t.Run("generated ids differ", func(t *testing.T) {
		a := ts.do(httptest.NewRequest(http.MethodGet, "/test/id", nil)).Header().Get(HeaderRequestID)
		b := ts.do(httptest.NewRequest(http.MethodGet, "/test/id", nil)).Header().Get(HeaderRequestID)
		<-seen
		<-seen
		require.NotEqual(t, a, b)
	})
}

func TestClientIPAndMetadata(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name       string
		trusted    []netip.Prefix
		remoteAddr string
		xff        []string
		want       string
	}{
		{"no proxy configured ignores XFF", nil, "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"untrusted peer cannot spoof", trusted, "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted proxy forwards client", trusted, "10.1.2.3:5555", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left part is ignored", trusted, "10.1.2.3:5555", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", trusted, "10.1.2.3:5555", []string{"198.51.100.7, 10.9.9.9", "10.8.8.8"}, "198.51.100.7"},
		{"all hops trusted takes leftmost", trusted, "10.1.2.3:5555", []string{"10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"garbage hop stops at last proxy", trusted, "10.1.2.3:5555", []string{"198.51.100.7, not-an-ip"}, "10.1.2.3"},
		{"trusted proxy without XFF", trusted, "10.1.2.3:5555", nil, "10.1.2.3"},
		{"ipv6 peer and client", trusted, "[fd00::1]:5555", []string{"2001:db8::42"}, "2001:db8::42"},
		{"ipv4-mapped peer is unmapped", trusted, "[::ffff:10.1.2.3]:5555", []string{"198.51.100.7"}, "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, Config{TrustedProxies: tc.trusted})
			var md domain.Metadata
			ts.handle(http.MethodGet, "/test/ip", func(w http.ResponseWriter, r *http.Request) {
				md = MetadataFrom(WithActor(r.Context(), "user-1", "alice"))
				w.WriteHeader(http.StatusNoContent)
			})
			req := httptest.NewRequest(http.MethodGet, "/test/ip", nil)
			req.RemoteAddr = tc.remoteAddr
			req.Header.Set("User-Agent", "vault-test/1.0")
			req.Header.Set(HeaderRequestID, "req-ip")
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			ts.do(req)
			require.Equal(t, domain.Metadata{
				Actor: "user-1", ActorName: "alice", ClientIP: tc.want, UserAgent: "vault-test/1.0",
				RequestID: "req-ip", CorrelationID: "req-ip",
			}, md)
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	// One token per 100 s: the third request inside a test can never be
	// refilled in time, whatever the machine's speed.
	ts := newTestServer(t, Config{RateLimitRPS: 0.01, RateLimitBurst: 2})
	ts.handle(http.MethodGet, "/test/limited", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	from := func(addr, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = addr
		return ts.do(req)
	}
	require.Equal(t, http.StatusNoContent, from("198.51.100.1:1", "/test/limited").Code)
	require.Equal(t, http.StatusNoContent, from("198.51.100.1:2", "/test/limited").Code)

	rec := from("198.51.100.1:3", "/test/limited")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, domain.ERATELIMIT, decodeErrorBody(t, rec).Code)
	require.Equal(t, "100", rec.Header().Get("Retry-After"))

	t.Run("other clients keep their own budget", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, from("198.51.100.2:1", "/test/limited").Code)
	})
	t.Run("ipv6 clients share a /64", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, from("[2001:db8:1:1::1]:1", "/test/limited").Code)
		require.Equal(t, http.StatusNoContent, from("[2001:db8:1:1::2]:1", "/test/limited").Code)
		require.Equal(t, http.StatusTooManyRequests, from("[2001:db8:1:1::3]:1", "/test/limited").Code)
	})
	t.Run("probes are exempt", func(t *testing.T) {
		require.Equal(t, http.StatusOK, from("198.51.100.1:4", "/healthz").Code)
	})
	t.Run("unknown paths count too", func(t *testing.T) {
		require.Equal(t, http.StatusTooManyRequests, from("198.51.100.1:5", "/nope").Code)
	})
	t.Run("a refusal is counted under the route it was aimed at", func(t *testing.T) {
		families, err := ts.reg.Gather()
		require.NoError(t, err)
		counts := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "vault_http_requests_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				labels := labelMap(m)
				counts[labels["route"]+" "+labels["code"]] = m.GetCounter().GetValue()
			}
		}
		require.Positive(t, counts["/test/limited 429"])
		require.Equal(t, float64(1), counts["unmatched 429"], "only /nope")
	})
}

func TestMetricsUseRouteTemplate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	ts.handle(http.MethodGet, "/api/v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"id": mux.Vars(r)["id"]})
	})
	for _, id := range []string{"alpha", "beta", "gamma"} {
		require.Equal(t, http.StatusOK, ts.do(httptest.NewRequest(http.MethodGet, "/api/v1/things/"+id, nil)).Code)
	}
	require.Equal(t, http.StatusNotFound, ts.do(httptest.NewRequest(http.MethodGet, "/secret-looking/path", nil)).Code)

	families, err := ts.reg.Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	var sawHistogram bool
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := labelMap(m)
			for _, v := range labels {
				require.NotContains(t, v, "alpha", "raw paths must never become label values")
				require.NotContains(t, v, "secret-looking")
			}
			switch f.GetName() {
			case "vault_http_requests_total":
				counts[labels["route"]+" "+labels["method"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "vault_http_request_duration_seconds":
				if labels["route"] == "/api/v1/things/{id}" {
					sawHistogram = true
					require.Equal(t, uint64(3), m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	require.Equal(t, float64(3), counts["/api/v1/things/{id} GET 200"])
	require.Equal(t, float64(1), counts["unmatched GET 404"])
	require.True(t, sawHistogram)

	t.Run("metrics endpoint exposes them", func(t *testing.T) {
		rec := ts.do(httptest.NewRequest(http.MethodGet, "/metrics", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), `vault_http_requests_total{code="200",method="GET",route="/api/v1/things/{id}"} 3`)
	})
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	ts.handle(http.MethodGet, "/test/panic", func(http.ResponseWriter, *http.Request) {
		panic("connect to postgres://vault:hunter2@db failed")
	})
	req := httptest.NewRequest(http.MethodGet, "/test/panic", nil)
	req.Header.Set(HeaderRequestID, "panic-req")
	rec := ts.do(req)

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	body := decodeErrorBody(t, rec)
	require.Equal(t, domain.EINTERNAL, body.Code)
	require.NotContains(t, rec.Body.String(), "hunter2")
	require.NotContains(t, rec.Body.String(), "goroutine")
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Equal(t, "panic-req", rec.Header().Get(HeaderRequestID))

	logs := ts.logs.String()
	require.Contains(t, logs, `"msg":"handler panic"`)
	require.Contains(t, logs, `"request_id":"panic-req"`)
	require.Contains(t, logs, `"status":500`, "the access log records the panic as a 500")
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	ts.handle(http.MethodGet, "/test/items/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	ts.handle(http.MethodDelete, "/test/items/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	cases := []struct {
		name   string
		method string
		path   string
		status int
		code   string
		allow  string
	}{
		{"unknown path", http.MethodGet, "/nothing/here", 404, domain.ENOTFOUND, ""},
		{"wrong method", http.MethodPost, "/test/items/7", 405, codeMethodNotAllowed, "GET, DELETE"},
		{"wrong method on probe", http.MethodPost, "/healthz", 405, codeMethodNotAllowed, "GET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := ts.do(httptest.NewRequest(tc.method, tc.path, nil))
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, tc.code, decodeErrorBody(t, rec).Code)
			require.Equal(t, tc.allow, rec.Header().Get("Allow"))
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		})
	}
}

func TestAccessLogKeepsTokensOut(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	ts.handle(http.MethodPost, "/test/login", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Password string `json:"password"`
		}
		if err := ts.decodeJSON(w, r, &in); err != nil {
			ts.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, "token")
	const canary = "CanaryS3cretValue"
	req := httptest.NewRequest(http.MethodPost, "/test/login?token="+canary, strings.NewReader(`{"password":"`+canary+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+canary)
	req.Header.Set("Cookie", "session="+canary)
	req.Header.Set(HeaderRequestID, "log-req")
	require.Equal(t, http.StatusNoContent, ts.do(req).Code)

	logs := ts.logs.String()
	require.Contains(t, logs, `"msg":"http request"`)
	require.Contains(t, logs, `"request_id":"log-req"`)
	require.Contains(t, logs, `"route":"/test/login"`)
	require.NotContains(t, logs, canary)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	ok := ReadyCheck{Name: "postgres", Check: func(context.Context) error { return nil }}
	failing := ReadyCheck{Name: "migrations", Check: func(context.Context) error {
		return errors.New("3 pending migrations on host db.internal")
	}}
	slow := ReadyCheck{Name: "projections", Check: func(ctx context.Context) error {
		<-ctx.Done() // only the check timeout can end it
		return ctx.Err()
	}}
	cases := []struct {
		name    string
		checks  []ReadyCheck
		status  int
		failing string
	}{
		{"no checks", nil, 200, ""},
		{"all pass", []ReadyCheck{ok}, 200, ""},
		{"one fails", []ReadyCheck{ok, failing}, 503, "migrations"},
		{"one hangs past its timeout", []ReadyCheck{ok, slow}, 503, "projections"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, Config{ReadyCheckTimeout: 50 * time.Millisecond}, tc.checks...)
			require.Equal(t, http.StatusOK, ts.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)).Code)

			rec := ts.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, tc.status, rec.Code)
			var body readyBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Len(t, body.Checks, len(tc.checks))
			require.NotContains(t, rec.Body.String(), "db.internal", "check errors are logged, not answered")
			if tc.failing == "" {
				require.Equal(t, "ready", body.Status)
				require.Nil(t, body.Error)
				return
			}
			require.Equal(t, domain.EUNAVAILABLE, body.Error.Code)
			require.Contains(t, body.Error.Message, tc.failing)
			require.Equal(t, "failed", body.Checks[tc.failing])
		})
	}
}

// A check that fails with a domain error says why: its message is
// caller-safe. This is how /readyz names a tampered log position.
func TestReadyzShowsWhatADomainCheckSays(t *testing.T) {
	t.Parallel()
	tampered := ReadyCheck{Name: "log_integrity", Check: func(context.Context) error {
		return domain.Errorf(domain.EUNAVAILABLE, "the event log failed its integrity check at position 42: the event's content does not match its keyed link")
	}}
	ts := newTestServer(t, Config{}, tampered)
	rec := ts.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	var body readyBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "failed: the event log failed its integrity check at position 42: the event's content does not match its keyed link", body.Checks["log_integrity"])
	require.Contains(t, body.Error.Message, "log_integrity")
}

func TestMinPositionHeader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		value string
		want  int64
		bad   bool
	}{
		{"absent", "", 0, false},
		{"zero", "0", 0, false},
		{"position", "12345", 12345, false},
		{"negative", "-1", 0, true},
		{"garbage", "12abc", 0, true},
		{"overflow", "99999999999999999999", 0, true},
		{"float", "1.5", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.value != "" {
				req.Header.Set(HeaderMinPosition, tc.value)
			}
			got, err := minPosition(req)
			if tc.bad {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				require.Contains(t, domain.ErrorMessage(err), HeaderMinPosition)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("set position", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		setPosition(rec, 42)
		require.Equal(t, "42", rec.Header().Get(HeaderPosition))
	})
}
