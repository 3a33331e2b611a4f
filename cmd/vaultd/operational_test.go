package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
)

// /api/v1/status used to answer anyone: projection names, log positions
// (how busy the vault is), the relay's stream and leader. It now needs a
// bearer token and `read` on `audit`.
func TestStatusWithoutTokenAnswers401(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t)
	anonymous := &client{t: t, base: e.inst.baseURL}
	for name, headers := range map[string][]string{
		"no header":     nil,
		"garbage token": {"Authorization", "Bearer not-a-token"},
		"basic auth":    {"Authorization", "Basic YWRtaW46eA=="},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, anonymous.base+"/api/v1/status", nil)
			require.NoError(t, err)
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
			require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer"), resp.Header.Get("WWW-Authenticate"))
			require.NotContains(t, string(body), "projections")
		})
	}
}

func TestStatusNeedsReadOnAudit(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t)
	reader := newUserWith(t, e.admin, "reader", []map[string]any{{"effect": "allow", "actions": []string{"read", "list"}, "resources": []string{"secrets/**"}}})
	status, body := reader.do(http.MethodGet, "/api/v1/status", nil)
	require.Equal(t, http.StatusForbidden, status, string(body))
	require.NotContains(t, string(body), "projections")

	auditor := newUserWith(t, e.admin, "auditor2", []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"audit"}}})
	for who, c := range map[string]*client{"auditor": auditor, "admin": e.admin} {
		status, body := c.do(http.MethodGet, "/api/v1/status", nil)
		require.Equal(t, http.StatusOK, status, "%s: %s", who, body)
		var st statusBody
		require.NoError(t, json.Unmarshal(body, &st))
		require.NotEmpty(t, st.Projections, who)
	}

	// The refusal is in the audit log like any other.
	status, body = e.admin.do(http.MethodGet, "/api/v1/audit/logs?outcome=denied&user=reader", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), `"resource_type":"audit"`)
}

// With VAULT_METRICS_ADDR, /metrics moves to its own listener (one an
// operator can keep on an internal interface): the API answers 404 there,
// the metrics listener serves nothing but /metrics and /healthz, and SIGTERM
// drains and closes both.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	d.env[config.EnvMetricsAddr] = "127.0.0.1:0"
	inst := d.start(t)
	require.NotEmpty(t, inst.metricsURL)

	get := func(url string) (int, string) {
		resp, err := http.Get(url) //nolint:gosec // G107: the URL of the vaultd this test started on loopback
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, _ := get(inst.baseURL + "/healthz") // one API request to count
	require.Equal(t, http.StatusOK, status)
	status, body := get(inst.metricsURL + "/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "vault_eventstore_append_seconds")
	require.Contains(t, body, "vault_http_requests_total")
	status, _ = get(inst.metricsURL + "/healthz")
	require.Equal(t, http.StatusOK, status)
	for _, path := range []string{"/api/v1/secrets", "/api/v1/status", "/readyz", "/"} {
		status, body := get(inst.metricsURL + path)
		require.Equal(t, http.StatusNotFound, status, "the metrics listener serves %s", path)
		require.Contains(t, body, `"code":"not_found"`)
	}

	status, body = get(inst.baseURL + "/metrics")
	require.Equal(t, http.StatusNotFound, status, "the API listener still serves /metrics")
	require.NotContains(t, body, "vault_")

	inst.stop(t) // serve returned nil: both servers shut down cleanly
	for _, url := range []string{inst.baseURL, inst.metricsURL} {
		_, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		require.Error(t, err, "%s still accepts connections after shutdown", url)
	}
}
