package sql

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppRole is the role every connection of the request path runs as. It may
// read and append to the log and maintain the read models, never rewrite
// the log (migrations grant exactly that); only migrations run as the
// connecting owner role.
const AppRole = "vault_app"

// UseAppRole makes every connection the pool opens switch to AppRole before
// it is handed out. SET ROLE (rather than a second login role) keeps one
// DATABASE_URL; the connecting role must be a member of vault_app, which
// the migrations arrange for an owner that may create roles.
func UseAppRole(cfg *pgxpool.Config) {
	previous := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if previous != nil {
			if err := previous(ctx, conn); err != nil {
				return err
			}
		}
		if _, err := conn.Exec(ctx, "SET ROLE "+AppRole); err != nil {
			return fmt.Errorf("switch to the %s role (the connecting role must be a member: GRANT %s TO it): %w", AppRole, AppRole, err)
		}
		return nil
	}
}
