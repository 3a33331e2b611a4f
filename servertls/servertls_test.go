package servertls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/testcerts"
	"github.com/securevault/vault/servertls"
)

// serve runs an HTTPS server with the reloader's configuration on loopback
// until the test ends and returns its URL.
func serve(t *testing.T, r *servertls.Reloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		TLSConfig:         r.Config(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return "https://" + ln.Addr().String()
}

func client(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

// get fetches url and returns the certificate the server presented and
// whether the request reused a kept-alive connection.
func get(t *testing.T, c *http.Client, url string) (*x509.Certificate, bool) {
	t.Helper()
	var reused bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "ok", string(body))
	require.NotNil(t, resp.TLS, "served over TLS")
	return resp.TLS.PeerCertificates[0], reused
}

// live returns certificate and key paths holding pair, as an operator's
// files that a renewal overwrites.
func live(t *testing.T, pair *testcerts.Pair) servertls.Files {
	t.Helper()
	dir := t.TempDir()
	files := servertls.Files{Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key")}
	pair.CopyTo(t, files.Cert, files.Key)
	return files
}

func TestReloadSwapsTheCertificateWithoutDroppingConnections(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewCA(t, "test CA")
	first, second := ca.Server(t, "first"), ca.Server(t, "second")
	files := live(t, first)
	r, err := servertls.New(files, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	url := serve(t, r)

	kept := client(ca.Pool())
	served, _ := get(t, kept, url)
	require.Equal(t, first.Cert.SerialNumber, served.SerialNumber, "the client verified the first certificate against the CA")

	second.CopyTo(t, files.Cert, files.Key)
	require.NoError(t, r.Reload())
	require.Equal(t, second.Cert.SerialNumber, r.Leaf().SerialNumber)

	served, reused := get(t, kept, url)
	require.True(t, reused, "the kept-alive connection survives the reload")
	require.Equal(t, first.Cert.SerialNumber, served.SerialNumber, "an open connection keeps its handshake")
	served, reused = get(t, client(ca.Pool()), url)
	require.False(t, reused)
	require.Equal(t, second.Cert.SerialNumber, served.SerialNumber, "a new connection gets the new certificate")

	// A bad pair is refused and the current one stays.
	other := testcerts.NewCA(t, "other CA").Server(t, "mismatched")
	expired := ca.Expired(t, "expired")
	for name, write := range map[string]func(){
		"not PEM":             func() { require.NoError(t, os.WriteFile(files.Cert, []byte("not a certificate"), 0o600)) },
		"key of another pair": func() { copyFile(t, first.CertFile, files.Cert); copyFile(t, other.KeyFile, files.Key) },
		"expired":             func() { expired.CopyTo(t, files.Cert, files.Key) },
		"missing":             func() { require.NoError(t, os.Remove(files.Cert)) },
	} {
		write()
		err := r.Reload()
		require.Error(t, err, name)
		require.Contains(t, err.Error(), servertls.EnvCert, "%s: the error names the variable", name)
		require.Equal(t, second.Cert.SerialNumber, r.Leaf().SerialNumber, "%s: the current certificate stays", name)
		served, _ = get(t, client(ca.Pool()), url)
		require.Equal(t, second.Cert.SerialNumber, served.SerialNumber, name)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o600))
}

func TestOnlyModernProtocolsAndSuites(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewCA(t, "test CA")
	r, err := servertls.New(live(t, ca.Server(t, "server")), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	url := serve(t, r)
	// The clients offer old versions and weak suites on purpose, to prove the
	// server refuses them.
	//nolint:gosec // G402: see above
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 with ECDHE and AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 with CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.RootCAs = ca.Pool()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.cfg}}
			resp, err := c.Get(url)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
		})
	}
}

func TestClientCertificatesAreRequired(t *testing.T) {
	t.Parallel()
	serverCA, clientCA, strangerCA := testcerts.NewCA(t, "server CA"), testcerts.NewCA(t, "client CA"), testcerts.NewCA(t, "stranger CA")
	files := live(t, serverCA.Server(t, "server"))
	files.ClientCA = clientCA.File
	r, err := servertls.New(files, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	url := serve(t, r)

	served, _ := get(t, client(serverCA.Pool(), clientCA.Client(t, "service").TLS), url)
	require.NotNil(t, served, "a certificate of the client CA is admitted")
	for name, c := range map[string]*http.Client{
		"no certificate":              client(serverCA.Pool()),
		"a certificate of another CA": client(serverCA.Pool(), strangerCA.Client(t, "stranger").TLS),
	} {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err, "%s is refused in the handshake", name)
	}
}

func TestNewNamesTheVariableAtFault(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewCA(t, "test CA")
	good, old := ca.Server(t, "server"), ca.Expired(t, "old")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		name  string
		files servertls.Files
		want  string
	}{
		{"no key", servertls.Files{Cert: good.CertFile}, servertls.EnvKey},
		{"missing certificate", servertls.Files{Cert: missing, Key: good.KeyFile}, servertls.EnvCert},
		{"missing client CA", servertls.Files{Cert: good.CertFile, Key: good.KeyFile, ClientCA: missing}, servertls.EnvClientCA},
		{"a client CA that is not PEM", servertls.Files{Cert: good.CertFile, Key: good.KeyFile, ClientCA: good.KeyFile}, servertls.EnvClientCA},
		{"an expired certificate", servertls.Files{Cert: old.CertFile, Key: old.KeyFile}, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := servertls.New(tc.files, slog.New(slog.DiscardHandler))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
