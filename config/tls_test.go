package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProductionRefusesPlainHTTPOnTheNetwork: production mode serves plain
// HTTP only on loopback, or when VAULT_TLS_DISABLE says a proxy in front
// terminates TLS; half a TLS configuration is refused in every mode.
func TestProductionRefusesPlainHTTPOnTheNetwork(t *testing.T) {
	t.Parallel()
	prod := productionEnv(t.TempDir())
	dev := with(prod, EnvMode, "dev")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; none: Load succeeds
	}{
		{"loopback without TLS", with(prod, EnvListenAddr, "127.0.0.1:8000"), nil},
		{"localhost without TLS", with(prod, EnvListenAddr, "localhost:8000"), nil},
		{"IPv6 loopback without TLS", with(prod, EnvListenAddr, "[::1]:8000"), nil},
		{"every interface without TLS", with(prod, EnvListenAddr, "0.0.0.0:8000"),
			[]string{EnvTLSCert + " is required in production to listen on 0.0.0.0:8000 (" + EnvListenAddr + ")", EnvTLSDisable + "=true"}},
		{"an empty host means every interface", with(prod, EnvListenAddr, ":8000"), []string{"listen on :8000"}},
		{"a host name is not known to be loopback", with(prod, EnvListenAddr, "vault.internal:8000"), []string{"vault.internal:8000"}},
		{"the metrics listener too", with(prod, EnvMetricsAddr, "10.0.0.5:9100"), []string{"10.0.0.5:9100 (" + EnvMetricsAddr + ")"}},
		{"a proxy terminates TLS", with(prod, EnvListenAddr, "0.0.0.0:8000", EnvMetricsAddr, "0.0.0.0:9100", EnvTLSDisable, "true"), nil},
		{"TLS files", with(prod, EnvListenAddr, "0.0.0.0:8000", EnvTLSCert, "/etc/vault/tls.crt", EnvTLSKey, "/etc/vault/tls.key"), nil},
		{"dev mode may serve plain HTTP anywhere", with(dev, EnvListenAddr, "0.0.0.0:8000"), nil},
		{"a certificate without its key", with(dev, EnvTLSCert, "/etc/vault/tls.crt"), []string{EnvTLSKey + " is required with " + EnvTLSCert}},
		{"a key without its certificate", with(dev, EnvTLSKey, "/etc/vault/tls.key"), []string{EnvTLSCert + " is required with " + EnvTLSKey}},
		{"a client CA without TLS", with(dev, EnvTLSClientCA, "/etc/vault/clients.pem"), []string{EnvTLSClientCA + " needs"}},
		{"TLS and a proxy at once", with(prod, EnvTLSCert, "/c", EnvTLSKey, "/k", EnvTLSDisable, "true"), []string{EnvTLSDisable + " is true but " + EnvTLSCert}},
		{"a TLS flag that is not a bool", with(prod, EnvTLSDisable, "yes please"), []string{EnvTLSDisable + " must be true or false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadFrom(context.Background(), lookupFrom(tc.env), nil)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				require.Equal(t, tc.env[EnvTLSCert] != "", cfg.TLS())
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
