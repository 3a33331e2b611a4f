package main

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/config"
)

// healthCmd probes a vaultd from inside its container (the image has no
// shell and no curl): `vaultctl health` is the Docker healthcheck. It reads
// VAULT_LISTEN_ADDR and, when VAULT_TLS_CERT is set, speaks HTTPS and
// accepts only the very certificate in that file, whatever the name it was
// issued for: the probe runs beside the server, so it pins rather than
// trusts a CA.
func healthCmd(e *env) *cobra.Command {
	var url, path, clientCert, clientKey string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Probe the local vaultd's /readyz (or --path) and exit 0 only on 200; the container healthcheck",
		Long: "health GETs /readyz on VAULT_LISTEN_ADDR (0.0.0.0 and :: become loopback) and exits 1 unless it\n" +
			"answers 200 (a degraded instance still answers 200). With VAULT_TLS_CERT it connects over TLS and\n" +
			"requires the served certificate to be the one in that file, so it also notices a renewed file that\n" +
			"was not reloaded (send SIGHUP). With VAULT_TLS_CLIENT_CA, give a client certificate.",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"db": "no"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			lookup := os.LookupEnv
			client := &http.Client{Timeout: timeout}
			scheme := "http"
			if certFile := config.Setting(lookup, config.EnvTLSCert); certFile != "" {
				tlsCfg, err := pinnedTLS(certFile, clientCert, clientKey)
				if err != nil {
					return err
				}
				client.Transport = &http.Transport{TLSClientConfig: tlsCfg}
				scheme = "https"
			}
			if url == "" {
				url = scheme + "://" + loopbackOf(config.Setting(lookup, config.EnvListenAddr)) + path
			}
			resp, err := client.Get(url)
			if err != nil {
				return fmt.Errorf("probe %s: %w", url, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			fmt.Fprintf(e.out, "%s %s\n", resp.Status, bytes.TrimSpace(body))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s", url, resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to probe (default: VAULT_LISTEN_ADDR and --path)")
	cmd.Flags().StringVar(&path, "path", "/readyz", "path to probe: /readyz, or /healthz for liveness")
	cmd.Flags().StringVar(&clientCert, "client-cert", "", "PEM client certificate, when VAULT_TLS_CLIENT_CA requires one")
	cmd.Flags().StringVar(&clientKey, "client-key", "", "PEM key of --client-cert")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

// loopbackOf turns a listen address into one to connect to from the same
// host.
func loopbackOf(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// pinnedTLS accepts exactly the leaf certificate in certFile.
func pinnedTLS(certFile, clientCert, clientKey string) (*tls.Config, error) {
	raw, err := os.ReadFile(filepath.Clean(certFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvTLSCert, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s=%s holds no PEM certificate", config.EnvTLSCert, certFile)
	}
	want := block.Bytes
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is not checked against a CA: the one acceptable leaf
		// is compared byte for byte below.
		InsecureSkipVerify: true, //nolint:gosec // pinned in VerifyConnection
		// VerifyConnection, unlike VerifyPeerCertificate, runs on resumed
		// sessions too, so a resumption cannot skip the pin.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("the served certificate is not the one in " + config.EnvTLSCert + " (a renewed file waits for SIGHUP)")
			}
			return nil
		},
	}
	if clientCert != "" || clientKey != "" {
		pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
		if err != nil {
			return nil, fmt.Errorf("--client-cert/--client-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
