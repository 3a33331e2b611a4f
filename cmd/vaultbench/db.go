package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/eventstore"
	vaultsql "github.com/securevault/vault/sql"
)

// scratchDB is a database created for one benchmark run and dropped after.
type scratchDB struct {
	adminURL string
	name     string
	url      string
	pool     *pgxpool.Pool
}

func newScratchDB(ctx context.Context, logger *slog.Logger, adminURL string, maxConns int32) (*scratchDB, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	name := "vault_bench_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", "the admin database", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db := &scratchDB{adminURL: adminURL, name: name, url: u.String(), pool: pool}
	if err := vaultsql.Migrate(ctx, pool, logger); err != nil {
		db.drop(ctx)
		return nil, err
	}
	return db, nil
}

func (d *scratchDB) drop(ctx context.Context) {
	d.pool.Close()
	admin, err := pgx.Connect(context.WithoutCancel(ctx), d.adminURL)
	if err != nil {
		return
	}
	defer admin.Close(context.WithoutCancel(ctx))
	_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)")
}

// newBenchStore opens the event store on the scratch database with a
// random chain key, as a fresh deployment would have.
func newBenchStore(db *scratchDB, logger *slog.Logger) (*eventstore.Store, error) {
	return newBenchStoreWith(db, logger, eventstore.Options{})
}

// newBenchStoreWith is newBenchStore with store options (upcasters).
func newBenchStoreWith(db *scratchDB, logger *slog.Logger, opts eventstore.Options) (*eventstore.Store, error) {
	key := make([]byte, eventstore.MinChainKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	keys, err := eventstore.NewChainKeys(key)
	if err != nil {
		return nil, err
	}
	return eventstore.New(db.pool, keys, logger, opts), nil
}
