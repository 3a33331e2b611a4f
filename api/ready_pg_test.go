package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/pgtest"
	vaultsql "github.com/securevault/vault/sql"
)

// The readiness checks cmd/vaultd wires, run against a real database and
// against one that is down.
func TestReadinessAgainstPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/vault?sslmode=disable&connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(down.Close)

	checks := func(pool *pgxpool.Pool) []ReadyCheck {
		return []ReadyCheck{
			{Name: "postgres", Check: pool.Ping},
			{Name: "migrations", Check: func(ctx context.Context) error {
				pending, err := vaultsql.Pending(ctx, pool)
				if err != nil {
					return err
				}
				if pending {
					return fmt.Errorf("migrations pending")
				}
				return nil
			}},
		}
	}
	cases := []struct {
		name   string
		pool   *pgxpool.Pool
		status int
		checks map[string]string
	}{
		{"migrated database, as the application role", db.AppPool, http.StatusOK, map[string]string{"postgres": "ok", "migrations": "ok"}},
		{"database down", down, http.StatusServiceUnavailable, map[string]string{"postgres": "failed", "migrations": "failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, Config{}, checks(tc.pool)...)
			rec := ts.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			var body readyBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Equal(t, tc.checks, body.Checks)
			require.NotContains(t, rec.Body.String(), "127.0.0.1")
		})
	}
}
