// Package servertls is the TLS side of vaultd's listeners: a certificate
// pair read from PEM files and swapped atomically when it is reloaded (on
// SIGHUP), so a renewed certificate takes effect without a restart or a
// dropped connection; TLS 1.2 at least with forward-secret AEAD suites only;
// and, optionally, client certificates signed by a CA of the operator's.
//
// Client certificates are required, not merely verified when given: an
// operator who names a client CA means that nothing without such a
// certificate reaches the API, and verify-if-given would let every client
// that simply sends none through. The API does not map certificates to
// identities (bearer tokens still authenticate every request); the
// certificate admits a network peer (a proxy, a mesh sidecar, a service).
package servertls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Files names the PEM files, as the environment gives them.
type Files struct {
	Cert     string // certificate chain, leaf first
	Key      string // the leaf's private key
	ClientCA string // optional: CA certificates client certificates must chain to
}

// Variable names the errors use, so an operator knows what to fix.
const (
	EnvCert     = "VAULT_TLS_CERT"
	EnvKey      = "VAULT_TLS_KEY"
	EnvClientCA = "VAULT_TLS_CLIENT_CA"
)

// cipherSuites are the TLS 1.2 suites offered: ECDHE key exchange (forward
// secrecy) with an AEAD, as in Mozilla's "intermediate" profile. TLS 1.3
// suites are all of that kind and not configurable.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// loaded is one generation of the files: what Reload swaps in whole.
type loaded struct {
	cert *tls.Certificate
	leaf *x509.Certificate
	// config is the per-handshake configuration with this generation's
	// client CAs, when a client CA is configured.
	config *tls.Config
}

// Reloader serves the current certificate and reloads it from its files.
type Reloader struct {
	files  Files
	logger *slog.Logger
	now    func() time.Time
	base   *tls.Config
	cur    atomic.Pointer[loaded]
}

// New reads the files; an error names the variable of the file at fault.
func New(files Files, logger *slog.Logger) (*Reloader, error) {
	r := &Reloader{files: files, logger: logger, now: time.Now}
	r.base = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   cipherSuites,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.getCertificate,
	}
	if files.ClientCA != "" {
		r.base.ClientAuth = tls.RequireAndVerifyClientCert
		r.base.GetConfigForClient = r.configForClient
	}
	l, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cur.Store(l)
	return r, nil
}

// Config is the listener's TLS configuration. It stays valid across
// reloads: every handshake reads the current certificate.
func (r *Reloader) Config() *tls.Config { return r.base }

// Leaf is the certificate being served.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().leaf }

// Reload reads the files again and swaps the new pair in for the next
// handshakes; connections already open keep theirs. A pair that cannot be
// used (unreadable, unparsable, a key that does not match, expired) is
// refused: the current one stays and the error says why.
func (r *Reloader) Reload() error {
	l, err := r.load()
	if err != nil {
		r.logger.Error("TLS certificate not reloaded; still serving the previous one", "error", err,
			"serving_subject", r.Leaf().Subject.String(), "serving_not_after", r.Leaf().NotAfter)
		return err
	}
	r.cur.Store(l)
	r.logger.Info("TLS certificate reloaded", "subject", l.leaf.Subject.String(),
		"serial", l.leaf.SerialNumber.String(), "not_after", l.leaf.NotAfter)
	return nil
}

func (r *Reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

func (r *Reloader) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return r.cur.Load().config, nil
}

func (r *Reloader) load() (*loaded, error) {
	if r.files.Cert == "" || r.files.Key == "" {
		return nil, fmt.Errorf("%s and %s must both be set", EnvCert, EnvKey)
	}
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return nil, fmt.Errorf("%s=%s with %s=%s: %w", EnvCert, r.files.Cert, EnvKey, r.files.Key, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", EnvCert, r.files.Cert, err)
		}
	}
	now := r.now()
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("%s=%s: the certificate expired at %s", EnvCert, r.files.Cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("%s=%s: the certificate is not valid before %s", EnvCert, r.files.Cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	l := &loaded{cert: &cert, leaf: leaf}
	if r.files.ClientCA != "" {
		pool, err := readPool(r.files.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", EnvClientCA, r.files.ClientCA, err)
		}
		l.config = r.base.Clone()
		l.config.ClientCAs = pool
		l.config.GetConfigForClient = nil
	}
	return l, nil
}

func readPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}
