package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/testcerts"
	"github.com/securevault/vault/servertls"
	vaultsql "github.com/securevault/vault/sql"
)

// run executes vaultctl with args in an environment of exactly env.
func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	for _, name := range []string{config.EnvMode, config.EnvDatabaseURL, config.EnvSecretKey, config.EnvEncryptionKey,
		config.EnvChainKey, config.EnvCheckpointKey, config.EnvAdminPassword, config.EnvListenAddr, config.EnvTLSCert} {
		t.Setenv(name, "")
		require.NoError(t, os.Unsetenv(name))
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

// TestMigrateNeedsOnlyTheDatabase: the one-shot migration job of a
// packaged deployment runs as the schema's owner with DATABASE_URL alone,
// in production mode, without a single key of the vault's.
func TestMigrateNeedsOnlyTheDatabase(t *testing.T) { // not parallel: it sets the environment
	url := pgtest.Empty(t)
	out, err := run(t, map[string]string{config.EnvMode: "production", config.EnvDatabaseURL: url}, "migrate")
	require.NoError(t, err, out)
	require.Contains(t, out, "database schema is up to date")
	pool, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer pool.Close(context.Background())
	var applied int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied))
	require.Positive(t, applied)

	// Again, as a login role that only belongs to vault_app: nothing is
	// pending, so it passes too (vaultd does the same at start-up).
	role := pgtest.LoginRole(t, vaultsql.AppRole)
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	u.User = neturl.User(role)
	roleURL := u.String()
	out, err = run(t, map[string]string{config.EnvMode: "production", config.EnvDatabaseURL: roleURL}, "migrate")
	require.NoError(t, err, out)
}

// serveReady serves /readyz over TLS with pair until the test ends.
func serveReady(t *testing.T, pair *testcerts.Pair, status int) string {
	t.Helper()
	r, err := servertls.New(servertls.Files{Cert: pair.CertFile, Key: pair.KeyFile}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, TLSConfig: r.Config(),
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"status":"`+req.URL.Path+`"}`) //nolint:gosec // G705: a fake health endpoint answering the test's own client
		})}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestHealthPinsTheConfiguredCertificate: the container healthcheck speaks
// TLS when VAULT_TLS_CERT is set and accepts exactly that certificate.
func TestHealthPinsTheConfiguredCertificate(t *testing.T) { // not parallel: it sets the environment
	ca := testcerts.NewCA(t, "test CA")
	served, other := ca.Server(t, "vault"), ca.Server(t, "other")
	addr := serveReady(t, served, http.StatusOK)
	_, port, _ := net.SplitHostPort(addr)
	env := map[string]string{config.EnvListenAddr: "0.0.0.0:" + port, config.EnvTLSCert: served.CertFile}

	out, err := run(t, env, "health")
	require.NoError(t, err, out)
	require.Contains(t, out, `200 OK {"status":"/readyz"}`, "0.0.0.0 is probed on loopback, /readyz by default")

	env[config.EnvTLSCert] = other.CertFile
	out, err = run(t, env, "health")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "not the one in "+config.EnvTLSCert)

	env[config.EnvTLSCert] = served.CertFile
	unready := serveReady(t, served, http.StatusServiceUnavailable)
	_, err = run(t, env, "health", "--url", "https://"+unready+"/readyz")
	require.ErrorContains(t, err, "503")
}

// TestSelfSignedCertificateIsWrittenOnce: the compose stack's one-shot TLS
// job keeps the certificate clients were told to trust, and what it writes
// is a pair vaultd serves.
func TestSelfSignedCertificateIsWrittenOnce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, writeSelfSigned(filepath.Join(dir, selfSignedCert), filepath.Join(dir, selfSignedKey), []string{"localhost", "127.0.0.1", "vault"}, time.Hour))
	r, err := servertls.New(servertls.Files{Cert: filepath.Join(dir, selfSignedCert), Key: filepath.Join(dir, selfSignedKey)}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	leaf := r.Leaf()
	require.ElementsMatch(t, []string{"localhost", "vault"}, leaf.DNSNames)
	require.Len(t, leaf.IPAddresses, 1)
	require.NoError(t, leaf.VerifyHostname("127.0.0.1"))
	info, err := os.Stat(filepath.Join(dir, selfSignedKey))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the key is private")

	before, err := os.ReadFile(filepath.Join(dir, selfSignedCert))
	require.NoError(t, err)
	var out bytes.Buffer
	root := newRoot(&out, io.Discard)
	root.SetArgs([]string{"tls", "self-signed", "--dir", dir})
	require.NoError(t, root.ExecuteContext(context.Background()))
	require.Contains(t, out.String(), "kept the existing")
	after, err := os.ReadFile(filepath.Join(dir, selfSignedCert))
	require.NoError(t, err)
	require.Equal(t, before, after)
}
