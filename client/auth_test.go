package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tokenServer plays the token endpoint's side of RFC 6749 section 4.4 and
// one protected route, so the client's renewal can be driven by a fake
// clock. The vault's own endpoint is tested against the client in
// cmd/vaultd.
type tokenServer struct {
	mu      sync.Mutex
	issued  int
	revoked map[string]bool
	forms   []map[string]string
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/api/v1/auth/token":
		if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.forms = append(s.forms, map[string]string{"grant_type": r.PostForm.Get("grant_type"), "client_id": r.PostForm.Get("client_id"), "client_secret": r.PostForm.Get("client_secret")})
		if r.PostForm.Get("client_secret") != "s3cret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"the client could not be authenticated"}`))
			return
		}
		s.issued++
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("token-%d", s.issued), "token_type": "Bearer", "expires_in": 900})
	case "/api/v1/status":
		token := r.Header.Get("Authorization")
		if token == "" || s.revoked[token] {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"the token is not valid"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"token":"` + token + `"}`)) //nolint:gosec // G705: a fake server answering the test's own client
	}
}

func TestClientCredentialsRenewBeforeExpiryAndAfterARefusal(t *testing.T) {
	t.Parallel()
	srv := &tokenServer{revoked: map[string]bool{}}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c, err := New(ts.URL, WithClientCredentials("client-1", "s3cret"))
	require.NoError(t, err)
	c.now = func() time.Time { return now }
	ctx := context.Background()

	status := func() string {
		t.Helper()
		st, err := c.Status(ctx)
		require.NoError(t, err)
		return st["token"].(string)
	}
	require.Equal(t, "Bearer token-1", status(), "fetched on first use")
	require.Equal(t, "Bearer token-1", status(), "kept while it is valid")
	require.Equal(t, []map[string]string{{"grant_type": "client_credentials", "client_id": "client-1", "client_secret": "s3cret"}}, srv.forms)

	now = now.Add(14*time.Minute + 1*time.Second) // within the last minute of 15
	require.Equal(t, "Bearer token-2", status(), "renewed before it expires")

	srv.mu.Lock()
	srv.revoked["Bearer token-2"] = true
	srv.mu.Unlock()
	require.Equal(t, "Bearer token-3", status(), "a refused token is replaced once and the request retried")

	bad, err := New(ts.URL, WithClientCredentials("client-1", "wrong"))
	require.NoError(t, err)
	_, err = bad.Status(ctx)
	require.Equal(t, CodeUnauthorized, Code(err), "invalid_client maps to unauthorized: %v", err)
	require.Contains(t, err.Error(), "could not be authenticated")
}

func TestErrorBodiesMapToTheVaultsCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		code   string
	}{
		{404, `{"error":{"code":"not_found","message":"secret not found"}}`, CodeNotFound},
		{403, `{"error":{"code":"forbidden","message":"no"}}`, CodeForbidden},
		{409, `{"error":{"code":"conflict","message":"taken"}}`, CodeConflict},
		{400, `{"error":"invalid_request"}`, CodeInvalid},
		{502, `<html>bad gateway</html>`, CodeInternal},
		{503, ``, CodeUnavailable},
		{429, `not json`, CodeRateLimit},
	} {
		err := decodeError(&response{status: tc.status, header: http.Header{}, body: []byte(tc.body)})
		require.Equal(t, tc.code, Code(err), "%d %s", tc.status, tc.body)
	}
}
