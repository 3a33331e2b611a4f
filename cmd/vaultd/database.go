package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ensureDatabase creates the configured database when it does not exist, so
// `make run` works on a machine that has only a bare PostgreSQL. It connects
// to the server's maintenance database to do so.
func ensureDatabase(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect to %s: %w", "DATABASE_URL", err)
	}
	u, perr := url.Parse(databaseURL)
	if perr != nil {
		return fmt.Errorf("parse %s: %w", "DATABASE_URL", perr)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("database %q does not exist and the maintenance database is unreachable: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // another replica created it first
			return nil
		}
		return fmt.Errorf("create database %q: %w", name, err)
	}
	logger.Info("created database", "database", name)
	return nil
}
