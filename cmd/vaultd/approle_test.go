package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/internal/pgtest"
	vaultsql "github.com/securevault/vault/sql"
)

// TestVaultdRunsAsALoginRoleThatOwnsNothing is the packaged deployment:
// migrations ran as the schema's owner (a one-shot `vaultctl migrate`), and
// vaultd connects as a login role that is only a member of vault_app. With
// nothing pending it starts, serves and appends; its connections run as
// vault_app. With a migration pending it refuses to start and says who must
// apply it.
func TestVaultdRunsAsALoginRoleThatOwnsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDeployment(t)
	role := pgtest.LoginRole(t, vaultsql.AppRole)
	d.env[config.EnvDatabaseURL] = d.db.URLAs(t, role)

	inst := d.start(t)
	inst.awaitReady(t, 30*time.Second)
	c := inst.adminClient(t) // the bootstrap and the login appended events
	status, _ := c.do(http.MethodGet, "/api/v1/users", nil)
	require.Equal(t, http.StatusOK, status)

	var session, current, owner string
	require.NoError(t, inst.app.pool.QueryRow(ctx,
		"SELECT session_user, current_user, pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").Scan(&session, &current, &owner))
	require.Equal(t, role, session, "vaultd logged in as the login role")
	require.Equal(t, vaultsql.AppRole, current, "and works as vault_app")
	require.NotEqual(t, role, owner, "which owns nothing")
	inst.stop(t)

	// A migration is pending: the login role cannot apply it.
	_, err := d.db.Pool.Exec(ctx, "DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)")
	require.NoError(t, err)
	cfg, err := config.LoadFrom(ctx, func(name string) (string, bool) { v, ok := d.env[name]; return v, ok }, nil)
	require.NoError(t, err)
	_, err = newApp(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	require.Error(t, err)
	require.Contains(t, err.Error(), "vaultctl migrate", "the error says who applies migrations")
	require.Contains(t, err.Error(), role)
}
