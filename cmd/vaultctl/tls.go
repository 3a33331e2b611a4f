package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// Files tls self-signed writes, as VAULT_TLS_CERT and VAULT_TLS_KEY name them.
const (
	selfSignedCert = "cert.pem"
	selfSignedKey  = "key.pem"
)

// tlsCmd makes a self-signed certificate for a local production-like stack
// (docker compose), where no CA issues one. A real deployment uses a
// certificate from its CA.
func tlsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "tls", Short: "TLS helpers for local deployments"}
	var dir string
	var hosts []string
	var validity time.Duration
	selfSigned := &cobra.Command{
		Use:   "self-signed",
		Short: "Write a self-signed certificate and key (cert.pem, key.pem) into --dir, once",
		Long: "self-signed writes an ECDSA P-256 certificate for --host names and addresses into --dir, unless\n" +
			"both files exist already (so a restart keeps the certificate clients were told to trust).\n" +
			"For local stacks only: clients must be given cert.pem to trust it.",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"db": "no"},
		RunE: func(*cobra.Command, []string) error {
			certPath, keyPath := filepath.Join(dir, selfSignedCert), filepath.Join(dir, selfSignedKey)
			if exists(certPath) && exists(keyPath) {
				fmt.Fprintf(e.out, "kept the existing %s and %s\n", certPath, keyPath)
				return nil
			}
			if err := writeSelfSigned(certPath, keyPath, hosts, validity); err != nil {
				return err
			}
			fmt.Fprintf(e.out, "wrote %s and %s for %v\n", certPath, keyPath, hosts)
			return nil
		},
	}
	selfSigned.Flags().StringVar(&dir, "dir", ".", "directory to write cert.pem and key.pem into")
	selfSigned.Flags().StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1"}, "DNS names and IP addresses the certificate is for")
	selfSigned.Flags().DurationVar(&validity, "validity", 365*24*time.Hour, "how long the certificate is valid")
	cmd.AddCommand(selfSigned)
	return cmd
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func writeSelfSigned(certPath, keyPath string, hosts []string, validity time.Duration) error {
	if len(hosts) == 0 {
		return errors.New("--host: name at least one host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"Secure Vault (self-signed)"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own issuer, so clients can trust it as a root
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o755); err != nil { //nolint:gosec // G301: holds the public certificate that clients read; the key file in it is 0600
		return err
	}
	// The key first: a certificate file never names a key that is not there.
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(filepath.Clean(path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
