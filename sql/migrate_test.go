package sql_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	vaultsql "github.com/securevault/vault/sql"
)

func TestMigrationsApplyOnceAndLeaveNothingPending(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	pending, err := vaultsql.Pending(context.Background(), db.Pool)
	require.NoError(t, err)
	require.False(t, pending)
}

// TestMigrationsWorkForANonSuperuserOwner: a production deployment
// connects as a role that owns its database and may create roles, not as
// a superuser. Migrations must still create vault_app, make the owner a
// member (so SET ROLE works) and grant the role what the app does; the
// app's pool then appends and reads as vault_app.
func TestMigrationsWorkForANonSuperuserOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		pgtest.Unavailable(t, "PostgreSQL", err)
		return
	}
	defer admin.Close(ctx)
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	owner, dbName := "vault_owner_"+suffix, "vault_test_owner_"+suffix
	_, err = admin.Exec(ctx, "CREATE ROLE "+owner+" LOGIN CREATEROLE")
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgtest.AdminURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
		_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+owner)
	})
	_, err = admin.Exec(ctx, "CREATE DATABASE "+dbName+" OWNER "+owner)
	require.NoError(t, err)

	u, err := url.Parse(pgtest.AdminURL())
	require.NoError(t, err)
	u.User, u.Path = url.User(owner), "/"+dbName
	ownerPool, err := pgxpool.New(ctx, u.String())
	require.NoError(t, err)
	defer ownerPool.Close()
	var super bool
	require.NoError(t, ownerPool.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super))
	require.False(t, super)
	require.NoError(t, vaultsql.Migrate(ctx, ownerPool, slog.New(slog.DiscardHandler)))

	appCfg, err := pgxpool.ParseConfig(u.String())
	require.NoError(t, err)
	vaultsql.UseAppRole(appCfg)
	app, err := pgxpool.NewWithConfig(ctx, appCfg)
	require.NoError(t, err)
	defer app.Close()
	key := make([]byte, 32)
	_, err = rand.Read(key)
	require.NoError(t, err)
	keys, err := eventstore.NewChainKeys(key)
	require.NoError(t, err)
	store := eventstore.New(app, keys, slog.New(slog.DiscardHandler), eventstore.Options{})
	defer store.Close()
	_, err = store.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, domain.NewEvent{
		ID: uuid.NewString(), Type: "ThingCreated", SchemaVersion: 1, Data: []byte(`{}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.NoError(t, err)
	report, err := store.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)
	pending, err := vaultsql.Pending(ctx, app)
	require.NoError(t, err, "the readiness check runs as vault_app too")
	require.False(t, pending)
	_, err = app.Exec(ctx, "DELETE FROM events")
	require.ErrorContains(t, err, "permission denied")
}
