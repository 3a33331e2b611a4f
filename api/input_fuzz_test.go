package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/securevault/vault/domain"
)

// requireCode fails unless err carries one of the domain codes.
func requireCodeIn(t *testing.T, what string, err error, codes ...string) {
	t.Helper()
	code := domain.ErrorCode(err)
	for _, c := range codes {
		if code == c {
			return
		}
	}
	t.Fatalf("%s: code %q (%v), want one of %v", what, code, err, codes)
}

// strictTargets are request types of real endpoints, each a different
// shape: nested arrays of objects, optional pointers, a nested object.
func strictTargets() []func() any {
	return []func() any{
		func() any { return &policyRequest{} },
		func() any { return &updateUserRequest{} },
		func() any { return &rotateSecretRequest{} },
		func() any { return &authzCheckRequest{} },
		func() any { return &createSecretRequest{} },
	}
}

// FuzzStrictJSON feeds request bodies to the decoder every endpoint uses.
// It never panics, refuses with 400 or 413 only, and what it accepts is
// valid UTF-8 JSON that encoding/json reads the same way and that survives
// a round trip through the strict decoder unchanged.
func FuzzStrictJSON(f *testing.F) {
	seeds := []string{
		`{"name":"readers","statements":[{"effect":"allow","actions":["read"],"resources":["secrets/**"]}]}`,
		`{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"statements":[{"effect":"deny","effect":"allow"}]}`,
		`{"n\u0061me":"a","name":"b"}`, "{\"name\":\"\xff\"}", `{"name":"a\u0000b"}`, `{"roles":["x"],"Roles":[]}`,
		`{"generate":{"length":32,"charset":"alphanumeric","Length":1}}`, `{"at_position":1e400}`, `{}{}`, `[`, ``,
		`{"as_of":"2026-01-02T15:04:05Z","at_position":3}`, strings.Repeat("[", 50), `{"tags":["a","a"],"value":"\ud800"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	targets := strictTargets()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		newDst := targets[int(which)%len(targets)]
		dst := newDst()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		err := decodeJSONLimit(httptest.NewRecorder(), req, dst, 4096)
		if err != nil {
			requireCodeIn(t, "decodeJSONLimit", err, domain.EINVALID, domain.ETOOLARGE)
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted a body that is not UTF-8 JSON: %q", body)
		}
		loose := newDst()
		if err := json.Unmarshal(body, loose); err != nil || !reflect.DeepEqual(loose, dst) {
			t.Fatalf("encoding/json reads %q differently: %+v, %v", body, loose, err)
		}
		again, err := json.Marshal(dst)
		if err != nil {
			t.Fatalf("marshal %+v: %v", dst, err)
		}
		back := newDst()
		req = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(again))
		req.Header.Set("Content-Type", "application/json")
		if err := decodeJSONLimit(httptest.NewRecorder(), req, back, 1<<20); err != nil || !reflect.DeepEqual(back, dst) {
			t.Fatalf("%s does not round-trip: %+v, %v", again, back, err)
		}
	})
}

// FuzzTimeAndPositionParams feeds the parsers of instants and positions:
// as_of and at_position, diff bounds (from, to), history cursors, If-Match
// and X-Vault-Min-Position. Each refuses with EINVALID, and what it accepts
// is a time that formats and parses back to itself or a non-negative
// position.
func FuzzTimeAndPositionParams(f *testing.F) {
	for _, s := range []string{"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+14:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"1", "0", "-1", "9223372036854775807", "9223372036854775808", "00012", "+5", "1e3", " 1", "\x00", "\xff", `"3"`, `"3`, `*`, `W/"3"`, "",
		"2026-01-02T15:04:05+24:00", "2026-02-30T00:00:00Z", "2026-01-02 15:04:05Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if tm, err := parseTime(paramAsOf, v); err != nil {
			requireCodeIn(t, "parseTime", err, domain.EINVALID)
		} else if back, err := time.Parse(time.RFC3339Nano, tm.Format(time.RFC3339Nano)); err != nil || !back.Equal(tm) {
			t.Fatalf("parseTime(%q) = %v does not round-trip", v, tm)
		}
		if n, err := parsePosition(paramAtPosition, v); err != nil {
			requireCodeIn(t, "parsePosition", err, domain.EINVALID)
		} else if n < 0 {
			t.Fatalf("parsePosition(%q) = %d", v, n)
		}
		if p, err := parsePoint("from", v); err != nil {
			requireCodeIn(t, "parsePoint", err, domain.EINVALID)
		} else if (p.Time == nil) == (p.Position == nil) || (p.Position != nil && *p.Position < 0) {
			t.Fatalf("parsePoint(%q) = %+v", v, p)
		}
		for _, param := range []string{paramAsOf, paramAtPosition} {
			r := httptest.NewRequest(http.MethodGet, "/?"+url.Values{param: {v}}.Encode(), nil)
			in, err := readAt(r)
			if err != nil {
				requireCodeIn(t, "readAt", err, domain.EINVALID)
			} else if (in.Time == nil) == (in.Position == nil) || in.MinPosition != 0 {
				t.Fatalf("readAt(%s=%q) = %+v", param, v, in)
			}
		}
		if n, err := parseIfMatch(v); err != nil {
			requireCodeIn(t, "parseIfMatch", err, domain.EINVALID)
		} else if n != nil && *n < 0 {
			t.Fatalf("parseIfMatch(%q) = %d", v, *n)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(HeaderMinPosition, v)
		if n, err := minPosition(r); err != nil {
			requireCodeIn(t, "minPosition", err, domain.EINVALID)
		} else if n < 0 {
			t.Fatalf("minPosition(%q) = %d", v, n)
		}
	})
}

// FuzzAuthorizationHeader feeds Authorization headers (one or two of them)
// to the bearer parser. It refuses with EUNAUTHORIZED only, and a token it
// accepts is non-empty, trimmed and bounded.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER  abc ", "Basic YWRtaW46eA==", "Bearer", "Bearer ", "Bearer a b",
		"Bearer\tabc", "Bearer \x00", "Bearer \xff", "Token abc", "", " Bearer abc", "Bearer " + strings.Repeat("a", 9000)} {
		f.Add(s, "")
		f.Add(s, "Bearer second")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{first}
		if second != "" {
			r.Header["Authorization"] = append(r.Header["Authorization"], second)
		}
		token, err := bearerToken(r)
		if err != nil {
			requireCodeIn(t, "bearerToken", err, domain.EUNAUTHORIZED)
			return
		}
		if second != "" || token == "" || token != strings.TrimSpace(token) || len(token) > maxAuthorizationHeader {
			t.Fatalf("bearerToken(%q, %q) = %q", first, second, token)
		}
	})
}

// FuzzClientAddress feeds the peer address, X-Forwarded-For and
// X-Request-Id to the parsers that decide what an event records as the
// client's address and request id. The address is the peer unless the peer
// is a trusted proxy, then one of the forwarded hops, never with a zone;
// the request id is always one the log may hold.
func FuzzClientAddress(f *testing.F) {
	for _, s := range [][3]string{
		{"10.0.0.1:443", "203.0.113.7", "req-1"}, {"10.0.0.1:443", "203.0.113.7, 10.0.0.2", "a:b.c_d"},
		{"10.0.0.1:443", "fe80::1%evil-zone", "\x00"}, {"10.0.0.1:443", "garbage, 203.0.113.7", strings.Repeat("x", 200)},
		{"198.51.100.1:1", "203.0.113.7", "\xff"}, {"[::1]:80", "[2001:db8::1]:443", "id with space"}, {"nonsense", "1.2.3.4", ""},
		{"10.0.0.1:1", "::ffff:10.0.0.9,::ffff:1.2.3.4", "x\r\ny"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff, reqID string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header["X-Forwarded-For"] = []string{xff}
		got := clientIP(r, trusted)
		peer := parseAddr(remote)
		if got.IsValid() && got.Zone() != "" {
			t.Fatalf("clientIP(%q, %q) = %v keeps a zone", remote, xff, got)
		}
		if !isTrusted(peer, trusted) && got != peer {
			t.Fatalf("clientIP(%q, %q) = %v believes an untrusted peer's header", remote, xff, got)
		}
		if got != peer {
			found := false
			for hop := range strings.SplitSeq(xff, ",") {
				found = found || parseAddr(strings.TrimSpace(hop)) == got
			}
			if !found {
				t.Fatalf("clientIP(%q, %q) = %v is neither the peer nor a hop", remote, xff, got)
			}
		}
		id := requestID(reqID)
		if !validRequestID(id) || (validRequestID(reqID) && id != reqID) {
			t.Fatalf("requestID(%q) = %q", reqID, id)
		}
	})
}

// FuzzListQueries feeds raw query strings to the parsers of the list
// endpoints' filters and cursors: users, roles and policies (name, limit,
// cursor) and the audit log (every filter, unknown and repeated parameters).
// They refuse with EINVALID; the names and cursors they pass on are checked
// by the queries against the name grammar (domain/names_fuzz_test.go).
func FuzzListQueries(f *testing.F) {
	for _, s := range []string{"cursor=AA", "name=%00", "name=%FF", "name=Ali&limit=5", "cursor=YWxpY2U", "cursor=_w", "limit=0", "limit=99999",
		"resource_id=%FF", "resource_id=%ED%A0%80", "user=alice&user=bob", "colour=red", "format=csv&since=2026-01-01T00:00:00Z", "%zz", "name=%E2%84%AAelvin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = raw
		if q, err := url.ParseQuery(raw); err == nil {
			in, err := identityListInput(q)
			if err != nil {
				requireCodeIn(t, "identityListInput", err, domain.EINVALID)
			} else if in.Limit < 0 || in.Prefix != q.Get("name") || in.Cursor != q.Get("cursor") {
				t.Fatalf("identityListInput(%q) = %+v", raw, in)
			}
		}
		in, format, err := parseAuditQuery(r)
		if err != nil {
			requireCodeIn(t, "parseAuditQuery", err, domain.EINVALID)
			return
		}
		if format != auditFormatJSON && format != auditFormatNDJSON && format != auditFormatCSV {
			t.Fatalf("parseAuditQuery(%q) format %q", raw, format)
		}
		if in.Limit < 0 || in.Limit > domain.AuditMaxLimit {
			t.Fatalf("parseAuditQuery(%q) limit %d", raw, in.Limit)
		}
	})
}
