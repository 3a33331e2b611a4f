// Package pgtest gives each test its own PostgreSQL database, migrated to the
// current schema and dropped when the test ends, so tests run in parallel and
// twice in a row without seeing each other's data.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/eventstore"
	vaultsql "github.com/securevault/vault/sql"
)

// AdminURL is the server the tests create their databases on. It must name a
// role allowed to CREATE DATABASE.
func AdminURL() string {
	if u := os.Getenv("VAULT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Database is a throwaway database for one test.
type Database struct {
	Name string
	URL  string
	// Pool connects as the migrating (super)user, for setup and for tests
	// that play an attacker with database access.
	Pool *pgxpool.Pool
	// AppPool's connections run as vault_app, as vaultd's do: use it
	// wherever a test exercises the application.
	AppPool *pgxpool.Pool
	// ChainKey is a random chain key for this database's event log.
	ChainKey []byte
}

// New creates and migrates a fresh database. Without PostgreSQL the test is
// skipped on a developer's machine and fails when CI=true, so a CI run can
// never pass by skipping everything.
func New(t testing.TB) *Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
		return nil
	}
	defer admin.Close(context.Background())

	name := "vault_test_" + randomSuffix(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { drop(t, name) })

	dbURL := withDatabase(t, AdminURL(), name)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := vaultsql.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	appCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	vaultsql.UseAppRole(appCfg)
	appPool, err := pgxpool.NewWithConfig(ctx, appCfg)
	if err != nil {
		t.Fatalf("connect to test database as %s: %v", vaultsql.AppRole, err)
	}
	t.Cleanup(appPool.Close)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("random: %v", err)
	}
	return &Database{Name: name, URL: dbURL, Pool: pool, AppPool: appPool, ChainKey: key}
}

// Superuser opens a connection that bypasses the log's protections, for
// tests that play an attacker with database access.
func (d *Database) Superuser(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), d.URL)
	if err != nil {
		t.Fatalf("connect as superuser: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Unavailable skips a test whose service is missing, except under CI where
// it fails.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but is not reachable: %v", service, err)
	}
	t.Skipf("%s not reachable (%v); set CI=true to make this a failure", service, err)
}

func drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Logf("drop test database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("drop test database %s: %v", name, err)
	}
}

func withDatabase(t testing.TB, raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", "VAULT_TEST_DATABASE_URL", err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// Must fails the test on error; it keeps setup code in tests short.
func Must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("setup: %w", err))
	}
	return v
}

// ChainKeys is the chain key set of this database's event log.
func (d *Database) ChainKeys(t testing.TB) *eventstore.ChainKeys {
	t.Helper()
	keys, err := eventstore.NewChainKeys(d.ChainKey)
	if err != nil {
		t.Fatalf("chain keys: %v", err)
	}
	return keys
}

// Empty creates a database without migrating it (a deployment's first
// start) and returns its URL; it is dropped when the test ends.
func Empty(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
		return ""
	}
	defer admin.Close(context.Background())
	name := "vault_test_" + randomSuffix(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { drop(t, name) })
	return withDatabase(t, AdminURL(), name)
}

// LoginRole creates a login role that is a member of the given roles (and
// nothing else: no superuser, no ownership), dropped when the test ends.
// Roles are cluster-wide, so its name is random.
func LoginRole(t testing.TB, memberOf ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
		return ""
	}
	defer admin.Close(context.Background())
	name := "vault_login_" + randomSuffix(t)
	stmt := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN"
	for i, r := range memberOf {
		if i == 0 {
			stmt += " IN ROLE "
		} else {
			stmt += ", "
		}
		stmt += pgx.Identifier{r}.Sanitize()
	}
	if _, err := admin.Exec(ctx, stmt); err != nil {
		t.Fatalf("create login role: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), AdminURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		// Objects it owns would block the drop; it is meant to own none.
		_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	})
	return name
}

// URLAs is the database's URL for another role.
func (d *Database) URLAs(t testing.TB, role string) string {
	t.Helper()
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatalf("parse %s: %v", d.URL, err)
	}
	u.User = url.User(role)
	return u.String()
}
