package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// TestReadyzAdvisoryChecks: a failing advisory check is named (with its
// caller-safe reason) and turns the status to "degraded", but the answer
// stays 200 so the instance keeps its traffic; a failing essential check
// still answers 503, and advisory failures are listed beside it.
func TestReadyzAdvisoryChecks(t *testing.T) {
	t.Parallel()
	ok := ReadyCheck{Name: "postgres", Check: func(context.Context) error { return nil }}
	relay := ReadyCheck{Name: "relay", Advisory: true, Check: func(context.Context) error {
		return domain.Errorf(domain.EUNAVAILABLE, "the relay cannot publish to its JetStream stream VAULT_EVENTS since 2026-12-01T10:00:00Z")
	}}
	signer := ReadyCheck{Name: "checkpoints", Advisory: true, Check: func(context.Context) error {
		return errors.New("dial tcp nats.internal:4222: connection refused")
	}}
	essential := ReadyCheck{Name: "migrations", Check: func(context.Context) error { return errors.New("pending") }}
	for _, tc := range []struct {
		name     string
		checks   []ReadyCheck
		code     int
		status   string
		degraded []string
	}{
		{"an advisory failure degrades", []ReadyCheck{ok, relay}, http.StatusOK, "degraded", []string{"relay"}},
		{"every advisory failure is named", []ReadyCheck{signer, ok, relay}, http.StatusOK, "degraded", []string{"checkpoints", "relay"}},
		{"an essential failure still fails", []ReadyCheck{relay, essential}, http.StatusServiceUnavailable, "", []string{"relay"}},
		{"a passing advisory check is just ok", []ReadyCheck{ok, {Name: "relay", Advisory: true, Check: ok.Check}}, http.StatusOK, "ready", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, Config{}, tc.checks...)
			rec := ts.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, tc.code, rec.Code)
			require.NotContains(t, rec.Body.String(), "nats.internal", "causes are logged, not answered")
			var body readyBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Equal(t, tc.status, body.Status)
			require.Equal(t, tc.degraded, body.Degraded)
			for _, c := range tc.checks {
				if c.Name == "relay" && tc.degraded != nil {
					require.Equal(t, "failed: the relay cannot publish to its JetStream stream VAULT_EVENTS since 2026-12-01T10:00:00Z", body.Checks["relay"])
				}
			}
			if tc.code == http.StatusServiceUnavailable {
				require.Equal(t, "not ready: migrations", body.Error.Message, "only essential failures make the instance not ready")
			} else {
				require.Nil(t, body.Error)
			}
		})
	}
}
