// Package client is the Go SDK of Secure Vault's HTTP API: authentication
// (password login with refresh, logout, and the OAuth 2.0 client-credentials
// grant with automatic renewal), secrets (by id and by name, time travel,
// rollback, batch reveal), users, roles, policies, service accounts and
// their credentials, access checks and the audit log.
//
// Every call takes a context first. Every failure the vault answers is an
// *Error carrying the vault's error code (the domain codes: not_found,
// forbidden, conflict, unauthorized...), so callers branch on Code(err).
//
//	c, _ := client.New("https://vault.example.com", client.WithClientCredentials(id, secret))
//	v, err := c.RevealSecretByName(ctx, "app/prod/db/password", 0)
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UserAgent is sent with every request unless WithUserAgent replaces it.
const UserAgent = "securevault-go-client"

// Client talks to one vault.
type Client struct {
	base      *url.URL
	http      *http.Client
	userAgent string
	now       func() time.Time

	mu   sync.RWMutex
	auth tokenSource
}

func (c *Client) source() tokenSource {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.auth
}

func (c *Client) setAuth(src tokenSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth = src
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces http.DefaultClient (for TLS settings, proxies,
// timeouts).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithUserAgent names the application in the vault's audit log.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithToken authenticates with a bearer access token obtained elsewhere
// (VAULT_TOKEN, a token file). It is not renewed.
func WithToken(token string) Option {
	return func(c *Client) { c.auth = &staticToken{value: token} }
}

// WithClientCredentials authenticates as a service account with the
// client-credentials grant (POST /api/v1/auth/token): the access token is
// fetched on first use and fetched again shortly before it expires, or once
// when the vault refuses it (a restart of the session's life, a revoked
// token).
func WithClientCredentials(clientID, clientSecret string) Option {
	return func(c *Client) {
		c.auth = &clientCredentials{c: c, clientID: clientID, clientSecret: clientSecret}
	}
}

// New returns a client of the vault at baseURL (scheme, host and port; a
// path prefix is kept).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("vault address: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("vault address %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u, http: http.DefaultClient, userAgent: UserAgent, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL is the vault's address as given to New.
func (c *Client) BaseURL() string { return c.base.String() }

// request is one API call.
type request struct {
	method string
	path   string // escaped, from the API root
	query  url.Values
	body   any // JSON-encoded when not nil
	form   url.Values
	header http.Header
	// anonymous requests carry no bearer token (login, refresh, token).
	anonymous bool
}

// response is an answer with a 2xx status.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req, renewing the token once if the vault answers 401 to a
// token it issued, and returns the answer or the vault's error.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var body []byte
	contentType := ""
	switch {
	case req.form != nil:
		body, contentType = []byte(req.form.Encode()), "application/x-www-form-urlencoded"
	case req.body != nil:
		b, err := json.Marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body, contentType = b, "application/json"
	}
	defer clear(body)
	src := c.source()
	for attempt := 0; ; attempt++ {
		token := ""
		if !req.anonymous {
			if src == nil {
				return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "no credentials: log in, or give a token or client credentials"}
			}
			t, err := src.token(ctx)
			if err != nil {
				return nil, err
			}
			token = t
		}
		resp, err := c.send(ctx, req, body, contentType, token)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized && !req.anonymous && attempt == 0 && src.renew(ctx, token) {
			continue
		}
		if resp.status >= 400 {
			return nil, decodeError(resp)
		}
		return resp, nil
	}
}

func (c *Client) send(ctx context.Context, req request, body []byte, contentType, token string) (*response, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + req.path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("request path: %w", err)
	}
	u.Path = p
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.userAgent)
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "the vault could not be reached", Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &Error{Status: resp.StatusCode, Code: CodeUnavailable, Message: "the answer could not be read", Err: err}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// maxResponseBytes bounds one answer (a batch reveal of 500 values of 64
// KiB fits).
const maxResponseBytes = 64 << 20

// call sends req and decodes the JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, req request, out any) (*response, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if out != nil && len(resp.body) > 0 {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return nil, &Error{Status: resp.status, Code: CodeInternal, Message: "the answer is not the JSON expected", Err: err}
		}
	}
	return resp, nil
}

// Written is where a write landed in the vault's log. Every read sent
// after the write's answer sees it; Position is for a client that passes
// it on explicitly (At.MinPosition), to another process for example.
type Written struct {
	Position int64
}

func written(resp *response) Written {
	pos, _ := strconv.ParseInt(resp.header.Get("X-Vault-Position"), 10, 64)
	return Written{Position: pos}
}

// At selects the state a read shows: the present (zero), the present once
// the read models reached MinPosition (read-your-writes), or a past instant
// (AsOf, or AtPosition in the log).
type At struct {
	AsOf        time.Time
	AtPosition  int64
	MinPosition int64
}

func (a At) apply(q url.Values, h http.Header) {
	if !a.AsOf.IsZero() {
		q.Set("as_of", a.AsOf.UTC().Format(time.RFC3339Nano))
	}
	if a.AtPosition > 0 {
		q.Set("at_position", strconv.FormatInt(a.AtPosition, 10))
	}
	if a.MinPosition > 0 {
		h.Set("X-Vault-Min-Position", strconv.FormatInt(a.MinPosition, 10))
	}
}

// firstAt is the optional At of a read.
func firstAt(at []At) At {
	if len(at) > 0 {
		return at[0]
	}
	return At{}
}

func atRequest(method, path string, at At) request {
	r := request{method: method, path: path, query: url.Values{}, header: http.Header{}}
	at.apply(r.query, r.header)
	return r
}

// seg escapes one path segment (an id, or a secret name whose '/' become
// %2F).
func seg(s string) string { return url.PathEscape(s) }

func ifMatch(h http.Header, version *int64) http.Header {
	if h == nil {
		h = http.Header{}
	}
	if version != nil {
		h.Set("If-Match", strconv.Quote(strconv.FormatInt(*version, 10)))
	}
	return h
}

var errNoToken = errors.New("no token")
