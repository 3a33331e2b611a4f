package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/projections"
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

// X-Vault-Min-Position against the real projection waiter: a query waits for
// its read model and answers 503 when it cannot catch up in time.
func TestMinPositionWaitsForReadModel(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	_, err := db.Pool.Exec(context.Background(),
		`INSERT INTO projection_checkpoints (name, position) VALUES ('secrets', 10)`)
	require.NoError(t, err)

	ts := newTestServerDeps(t, Config{MinPositionTimeout: 200 * time.Millisecond},
		Deps{Waiter: projections.NewWaiter(db.Pool, nil, 10*time.Millisecond)})
	ts.handle(http.MethodGet, "/test/read", func(w http.ResponseWriter, r *http.Request) {
		if err := ts.awaitMinPosition(r, "secrets"); err != nil {
			ts.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	cases := []struct {
		name   string
		header string
		status int
		code   string
	}{
		{"no header reads at once", "", http.StatusNoContent, ""},
		{"position already applied", "5", http.StatusNoContent, ""},
		{"exactly the checkpoint", "10", http.StatusNoContent, ""},
		{"read model behind past the bound", "11", http.StatusServiceUnavailable, domain.EUNAVAILABLE},
		{"garbage header", "ten", http.StatusBadRequest, domain.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/test/read", nil)
			if tc.header != "" {
				req.Header.Set(HeaderMinPosition, tc.header)
			}
			rec := ts.do(req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.code != "" {
				require.Equal(t, tc.code, decodeErrorBody(t, rec).Code)
			}
		})
	}
}
