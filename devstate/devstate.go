// Package devstate ties dev mode's local state (generated keys, the
// embedded JetStream data) to the dev database it belongs to.
//
// The dev database outlives any one checkout: a second clone, or the same
// one after `git clean`, meets a database whose secrets are encrypted under
// keys that were generated into the first clone's ./.vault-dev. So the state
// is kept per database, under the user's configuration directory, in a
// directory named by the database's identity: the cluster's
// system_identifier and the database's name and oid. Dropping and creating
// the database again changes its oid, so a new database never inherits a
// stale JetStream stream (which the relay would rightly call tampering) or
// keys that decrypt nothing.
package devstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/eventstore"
)

// Identity names one database of one PostgreSQL cluster for good.
type Identity struct {
	Name     string
	SystemID string // pg_control_system().system_identifier
	OID      uint32
}

// Key is the directory name of the database's dev state.
func (id Identity) Key() string { return fmt.Sprintf("%s-%s-%d", safe(id.Name), id.SystemID, id.OID) }

// prefix is what every generation of this database name on this cluster
// shares, for dev-reset to clear them all.
func (id Identity) prefix() string { return fmt.Sprintf("%s-%s-", safe(id.Name), id.SystemID) }

// Database is the config.DevDatabaseFunc: it creates the dev database when
// it is missing (so `make run` works on a bare PostgreSQL), identifies it,
// and tells config whether it holds master keys and which chain key its log
// was linked with: what keys generated now could not read.
func Database(ctx context.Context, databaseURL string, logger *slog.Logger) (config.DevDatabase, error) {
	conn, err := connect(ctx, databaseURL, logger)
	if err != nil {
		return config.DevDatabase{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id, err := identify(ctx, conn)
	if err != nil {
		return config.DevDatabase{}, err
	}
	db := config.DevDatabase{Key: id.Key(), Name: id.Name}
	if db.MasterKeys, err = hasRows(ctx, conn, "master_keys"); err != nil {
		return config.DevDatabase{}, err
	}
	events, err := hasRows(ctx, conn, "events")
	if err != nil || !events {
		return db, err
	}
	var keyID string
	err = conn.QueryRow(ctx, `SELECT COALESCE((SELECT hash_key_id FROM events
		WHERE hash_key_id IS NOT NULL ORDER BY position DESC LIMIT 1), '')`).Scan(&keyID)
	if err != nil {
		return config.DevDatabase{}, fmt.Errorf("read the dev database's chain key id: %w", err)
	}
	if keyID != "" {
		db.KeyedBy = func(chainKey []byte) bool { return eventstore.ChainKeyID(chainKey) == keyID }
	}
	return db, nil
}

// EnsureDatabase creates the database DATABASE_URL names when it does not
// exist, so `make run` works on a machine that has only a bare PostgreSQL.
func EnsureDatabase(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	conn, err := connect(ctx, databaseURL, logger)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// connect opens the database, creating it first when it does not exist.
func connect(ctx context.Context, databaseURL string, logger *slog.Logger) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err == nil {
		return conn, nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return nil, fmt.Errorf("connect to %s: %w", config.EnvDatabaseURL, err)
	}
	name, err := databaseName(databaseURL)
	if err != nil {
		return nil, err
	}
	admin, err := maintenance(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database %q does not exist and the maintenance database is unreachable: %w", name, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // not "another process created it first"
			return nil, fmt.Errorf("create database %q: %w", name, err)
		}
	} else {
		logger.Info("created the dev database", "database", name)
	}
	conn, err = pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", config.EnvDatabaseURL, err)
	}
	return conn, nil
}

func identify(ctx context.Context, conn *pgx.Conn) (Identity, error) {
	var id Identity
	err := conn.QueryRow(ctx, `SELECT d.datname, s.system_identifier::text, d.oid::int8
		FROM pg_database d, pg_control_system() s WHERE d.datname = current_database()`).Scan(&id.Name, &id.SystemID, &id.OID)
	if err != nil {
		return Identity{}, fmt.Errorf("identify the dev database: %w", err)
	}
	return id, nil
}

// hasRows reports whether table exists and holds a row.
func hasRows(ctx context.Context, conn *pgx.Conn, table string) (bool, error) {
	exists, err := tableExists(ctx, conn, table)
	if err != nil || !exists {
		return false, err
	}
	var rows bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{table}.Sanitize()+")").Scan(&rows); err != nil {
		return false, fmt.Errorf("inspect the dev database: %w", err)
	}
	return rows, nil
}

func tableExists(ctx context.Context, conn *pgx.Conn, table string) (bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return false, fmt.Errorf("inspect the dev database: %w", err)
	}
	return exists, nil
}

// Reset drops the dev database and removes every dev state directory this
// database name ever had on this cluster under root, and the checkout's
// legacy state directory when given. It returns what it removed. Refusing
// production is the caller's job: this drops whatever it is pointed at.
func Reset(ctx context.Context, databaseURL, root, legacyDir string) ([]string, error) {
	name, err := databaseName(databaseURL)
	if err != nil {
		return nil, err
	}
	admin, err := maintenance(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the maintenance database of %s: %w", config.EnvDatabaseURL, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var systemID string
	if err := admin.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&systemID); err != nil {
		return nil, fmt.Errorf("identify the PostgreSQL cluster: %w", err)
	}
	var removed []string
	tag, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		return nil, fmt.Errorf("drop database %q: %w", name, err)
	}
	if tag.String() == "DROP DATABASE" {
		removed = append(removed, "database "+name)
	}
	prefix := Identity{Name: name, SystemID: systemID}.prefix()
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return removed, fmt.Errorf("read %s: %w", root, err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			dir := filepath.Join(root, e.Name())
			if err := os.RemoveAll(dir); err != nil {
				return removed, fmt.Errorf("remove %s: %w", dir, err)
			}
			removed = append(removed, dir)
		}
	}
	if legacyDir != "" {
		if _, err := os.Stat(legacyDir); err == nil {
			if err := os.RemoveAll(legacyDir); err != nil {
				return removed, fmt.Errorf("remove %s: %w", legacyDir, err)
			}
			removed = append(removed, legacyDir)
		}
	}
	return removed, nil
}

// maintenance connects to the server's "postgres" database, as the role
// DATABASE_URL names, to create or drop the dev database.
func maintenance(ctx context.Context, databaseURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", config.EnvDatabaseURL, err)
	}
	cfg.Database = "postgres"
	return pgx.ConnectConfig(ctx, cfg)
}

func databaseName(databaseURL string) (string, error) {
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", config.EnvDatabaseURL, err)
	}
	return cfg.Database, nil
}

// safe keeps a database name usable as a directory name.
func safe(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, name)
}
