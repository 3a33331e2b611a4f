package devstate_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/devstate"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
)

// devEnv is what `make run` sees: dev mode, a database, a data directory,
// and no keys in the environment.
func devEnv(databaseURL, dataDir string) func(string) (string, bool) {
	env := map[string]string{
		config.EnvMode:        "dev",
		config.EnvDatabaseURL: databaseURL,
		config.EnvDataDir:     dataDir,
	}
	return func(name string) (string, bool) { v, ok := env[name]; return v, ok }
}

func load(t *testing.T, lookup func(string) (string, bool)) (*config.Config, error) {
	t.Helper()
	return config.LoadWith(context.Background(), config.Options{
		Lookup: lookup, Logger: slog.New(slog.DiscardHandler), DevDatabase: devstate.Database,
	})
}

// use does what a first `make run` does with the keys: a master key under
// ENCRYPTION_KEY and an event chained under VAULT_CHAIN_KEY.
func use(t *testing.T, db *pgtest.Database, cfg *config.Config) {
	t.Helper()
	ctx := context.Background()
	kr, err := keys.NewKeyring(ctx, db.AppPool, cfg.EncryptionKey.Bytes(), slog.New(slog.DiscardHandler), keys.KeyringOptions{})
	require.NoError(t, err)
	kr.Close()
	chain, err := eventstore.NewChainKeys(cfg.ChainKey.Bytes())
	require.NoError(t, err)
	store := eventstore.New(db.AppPool, chain, slog.New(slog.DiscardHandler), eventstore.Options{})
	defer store.Close()
	_, err = store.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, domain.NewEvent{
		ID: uuid.NewString(), Type: "ThingHappened", SchemaVersion: 1, Data: json.RawMessage(`{}`),
		Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.NoError(t, err)
}

// opens reports whether ENCRYPTION_KEY opens the database's master keys.
func opens(t *testing.T, db *pgtest.Database, cfg *config.Config) error {
	t.Helper()
	kr, err := keys.NewKeyring(context.Background(), db.AppPool, cfg.EncryptionKey.Bytes(), slog.New(slog.DiscardHandler), keys.KeyringOptions{})
	if err == nil {
		kr.Close()
	}
	return err
}

// TestDevKeysFollowTheDatabase is the second-clone story: the dev keys live
// with the dev database's identity, not in a checkout, so a later start
// finds them; a database that holds data without its keys is refused with
// the command that fixes it; a legacy key file that matches is adopted, one
// that does not is not; dev-reset starts everything over.
func TestDevKeysFollowTheDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	root := t.TempDir()
	lookup := devEnv(db.URL, root)

	first, err := load(t, lookup)
	require.NoError(t, err)
	require.Equal(t, root, filepath.Dir(first.StateDir), "the state is one directory per database under the root")
	require.True(t, strings.HasPrefix(filepath.Base(first.StateDir), db.Name+"-"), "named by the database: %s", first.StateDir)
	require.Equal(t, filepath.Join(first.StateDir, config.DevKeysFileName), first.DevKeysFile)
	use(t, db, first)

	// Another checkout, same database: same keys, and they open it.
	second, err := load(t, lookup)
	require.NoError(t, err)
	require.Equal(t, first.StateDir, second.StateDir)
	require.Equal(t, first.EncryptionKey.Bytes(), second.EncryptionKey.Bytes())
	require.Equal(t, first.ChainKey.Bytes(), second.ChainKey.Bytes())
	require.NoError(t, opens(t, db, second))

	// The state is lost: new keys would not read the data, so none are made.
	saved, err := os.ReadFile(first.DevKeysFile)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(first.StateDir))
	_, err = load(t, lookup)
	require.Error(t, err)
	require.Contains(t, err.Error(), config.DevResetCommand, "the error names the command that fixes it")
	require.Contains(t, err.Error(), db.Name)
	require.NoFileExists(t, first.DevKeysFile, "no keys were generated for a database in use")

	// With the keys that matter given, a lost SECRET_KEY is only new
	// sessions: generating one is fine.
	withKeys := func(name string) (string, bool) {
		switch name {
		case config.EnvEncryptionKey:
			return base64.StdEncoding.EncodeToString(first.EncryptionKey.Bytes()), true
		case config.EnvChainKey:
			return base64.StdEncoding.EncodeToString(first.ChainKey.Bytes()), true
		}
		return lookup(name)
	}
	partial, err := load(t, withKeys)
	require.NoError(t, err)
	require.NotEqual(t, first.SecretKey.Bytes(), partial.SecretKey.Bytes())
	require.NoError(t, opens(t, db, partial))
	require.NoError(t, os.RemoveAll(first.StateDir))

	// A legacy key file of another database is not adopted either.
	foreign := strings.ReplaceAll(string(saved), "VAULT_CHAIN_KEY=", "VAULT_CHAIN_KEY=AAAA")
	require.NoError(t, os.WriteFile(filepath.Join(root, config.DevKeysFileName), []byte(foreign), 0o600))
	_, err = load(t, lookup)
	require.ErrorContains(t, err, config.DevResetCommand)

	// The legacy file that matches (the old layout kept keys at the top of
	// the data directory, or in ./.vault-dev) is adopted.
	require.NoError(t, os.WriteFile(filepath.Join(root, config.DevKeysFileName), saved, 0o600))
	adopted, err := load(t, lookup)
	require.NoError(t, err)
	require.Equal(t, first.StateDir, adopted.StateDir)
	require.Equal(t, first.EncryptionKey.Bytes(), adopted.EncryptionKey.Bytes())
	require.NoError(t, opens(t, db, adopted))
	require.FileExists(t, filepath.Join(first.StateDir, config.DevKeysFileName))

	// dev-reset drops the database and its state; the next start creates a
	// new database (a new identity, so a new directory) with new keys.
	removed, err := devstate.Reset(context.Background(), db.URL, root, "")
	require.NoError(t, err)
	require.Contains(t, removed, "database "+db.Name)
	require.Contains(t, removed, first.StateDir)
	require.NoDirExists(t, first.StateDir)
	fresh, err := load(t, lookup)
	require.NoError(t, err, "the database is created again")
	require.NotEqual(t, first.StateDir, fresh.StateDir, "a new database gets new state, never the old JetStream data")
	require.NotEqual(t, first.EncryptionKey.Bytes(), fresh.EncryptionKey.Bytes())
}

// TestEnsureDatabaseCreatesAMissingOne: `make run` on a bare PostgreSQL.
func TestEnsureDatabaseCreatesAMissingOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		pgtest.Unavailable(t, "PostgreSQL", err)
		return
	}
	defer admin.Close(ctx)
	name := "vault_test_devstate_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	t.Cleanup(func() { // on a connection of its own: admin is closed by then
		c, err := pgx.Connect(context.Background(), pgtest.AdminURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	cfg, err := pgx.ParseConfig(pgtest.AdminURL())
	require.NoError(t, err)
	url := strings.Replace(pgtest.AdminURL(), "/"+cfg.Database, "/"+name, 1)
	require.NoError(t, devstate.EnsureDatabase(ctx, url, slog.New(slog.DiscardHandler)))
	require.NoError(t, devstate.EnsureDatabase(ctx, url, slog.New(slog.DiscardHandler)), "twice is fine")
	var exists bool
	require.NoError(t, admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.True(t, exists)

	// A fresh database is not in use: nothing to protect yet.
	db, err := devstate.Database(ctx, url, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.False(t, db.MasterKeys)
	require.Nil(t, db.KeyedBy)
}
