package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/internal/testcerts"
)

func tlsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
	}}
}

type tlsAnswer struct {
	status int
	header http.Header
	body   string
	serial string // of the certificate the server presented
	reused bool   // the request went over a kept-alive connection
}

func tlsGet(t *testing.T, c *http.Client, url string) tlsAnswer {
	t.Helper()
	var a tlsAnswer
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { a.reused = info.Reused },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NotNil(t, resp.TLS)
	a.status, a.header, a.body = resp.StatusCode, resp.Header, string(body)
	a.serial = resp.TLS.PeerCertificates[0].SerialNumber.String()
	return a
}

// TestVaultdServesHTTPSAndReloadsOnSIGHUP: with VAULT_TLS_CERT and
// VAULT_TLS_KEY both listeners serve HTTPS that a client verifies against
// the test CA, every answer carries HSTS, plain HTTP is refused, and a
// SIGHUP swaps in a renewed certificate for new connections while a
// kept-alive one goes on working.
func TestVaultdServesHTTPSAndReloadsOnSIGHUP(t *testing.T) {
	ca := testcerts.NewCA(t, "vault test CA")
	first, renewed := ca.Server(t, "vault-1"), ca.Server(t, "vault-2")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first.CopyTo(t, certFile, keyFile)

	d := newDeployment(t)
	d.env[config.EnvTLSCert], d.env[config.EnvTLSKey] = certFile, keyFile
	d.env[config.EnvMetricsAddr] = "127.0.0.1:0"
	inst := d.start(t)
	require.True(t, strings.HasPrefix(inst.baseURL, "https://"))

	kept := tlsClient(ca.Pool())
	require.Eventually(t, func() bool { return tlsGet(t, kept, inst.baseURL+"/readyz").status == http.StatusOK }, 30*time.Second, 50*time.Millisecond)
	a := tlsGet(t, kept, inst.baseURL+"/healthz")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, first.Cert.SerialNumber.String(), a.serial, "the client verified the served certificate against the CA")
	require.Equal(t, "max-age=63072000", a.header.Get("Strict-Transport-Security"))
	m := tlsGet(t, tlsClient(ca.Pool()), inst.metricsURL+"/metrics")
	require.Equal(t, http.StatusOK, m.status, "the metrics listener serves HTTPS with the same certificate")
	require.Equal(t, first.Cert.SerialNumber.String(), m.serial)
	require.Contains(t, m.body, "vault_tls_certificate_expiry_timestamp_seconds")

	plain, err := http.Get("http" + strings.TrimPrefix(inst.baseURL, "https") + "/healthz")
	require.NoError(t, err)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode, "plain HTTP to the TLS port is refused")

	// The renewal lands on disk; SIGHUP makes vaultd read it.
	renewed.CopyTo(t, certFile, keyFile)
	stop := reloadOnHangup(context.Background(), inst.app.reloadTLS)
	defer stop()
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return tlsGet(t, tlsClient(ca.Pool()), inst.baseURL+"/healthz").serial == renewed.Cert.SerialNumber.String()
	}, 30*time.Second, 20*time.Millisecond, "new connections get the renewed certificate")
	a = tlsGet(t, kept, inst.baseURL+"/healthz")
	require.Equal(t, http.StatusOK, a.status)
	require.True(t, a.reused, "the connection from before the reload is still open")
	require.Equal(t, first.Cert.SerialNumber.String(), a.serial, "and keeps its handshake")
	m = tlsGet(t, tlsClient(ca.Pool()), inst.metricsURL+"/healthz")
	require.Equal(t, renewed.Cert.SerialNumber.String(), m.serial, "the metrics listener follows the reload")

	// A broken renewal is refused and the current certificate stays.
	require.NoError(t, os.WriteFile(certFile, []byte("truncated"), 0o600))
	inst.app.reloadTLS()
	require.Equal(t, renewed.Cert.SerialNumber.String(), tlsGet(t, tlsClient(ca.Pool()), inst.baseURL+"/healthz").serial)
	require.Contains(t, d.logSink.String(), "TLS certificate not reloaded; still serving the previous one")
}

// TestVaultdRequiresClientCertificates: with VAULT_TLS_CLIENT_CA both
// listeners admit only clients with a certificate the CA signed.
func TestVaultdRequiresClientCertificates(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := testcerts.NewCA(t, "server CA"), testcerts.NewCA(t, "client CA")
	pair := serverCA.Server(t, "vault")
	d := newDeployment(t)
	d.env[config.EnvTLSCert], d.env[config.EnvTLSKey] = pair.CertFile, pair.KeyFile
	d.env[config.EnvTLSClientCA] = clientCA.File
	d.env[config.EnvMetricsAddr] = "127.0.0.1:0"
	inst := d.start(t)

	admitted := tlsClient(serverCA.Pool(), clientCA.Client(t, "prometheus").TLS)
	stranger := tlsClient(serverCA.Pool(), testcerts.NewCA(t, "other CA").Client(t, "stranger").TLS)
	anonymous := tlsClient(serverCA.Pool())
	for _, url := range []string{inst.baseURL + "/healthz", inst.metricsURL + "/healthz"} {
		require.Equal(t, http.StatusOK, tlsGet(t, admitted, url).status, url)
		for name, c := range map[string]*http.Client{"no certificate": anonymous, "another CA's certificate": stranger} {
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "%s: %s is refused", url, name)
		}
	}
}
