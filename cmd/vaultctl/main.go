// Command vaultctl is the operator's command line. It talks to the vault's
// PostgreSQL directly (same environment variables as vaultd) and is safe to
// run against a live service: every command it runs is one that several
// vaultd replicas already tolerate from each other.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/securevault/vault/cmd/internal/buildinfo"
	"github.com/securevault/vault/cmd/internal/vaultcli"
	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/devstate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		stop()
		os.Exit(vaultcli.Report(os.Stderr, err))
	}
}

// env is what every subcommand needs: configuration, a logger and, once
// opened, the database.
type env struct {
	out, errOut io.Writer
	logger      *slog.Logger
	cfg         *config.Config
	pool        *pgxpool.Pool
}

func (e *env) open(ctx context.Context) error {
	cfg, err := config.LoadWith(ctx, config.Options{Logger: e.logger, DevDatabase: devstate.Database})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	e.cfg = cfg
	pool, err := wire.OpenDatabase(ctx, cfg, e.logger, nil)
	if err != nil {
		return err
	}
	e.pool = pool
	return nil
}

func (e *env) close() {
	if e.pool != nil {
		e.pool.Close()
	}
}

func newRoot(out, errOut io.Writer) *cobra.Command {
	e := &env{out: out, errOut: errOut, logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	root := &cobra.Command{
		Use:           "vaultctl",
		Short:         "Operate a Secure Vault deployment",
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Annotations["db"] == "no" {
				return nil
			}
			return e.open(cmd.Context())
		},
		PersistentPostRun: func(*cobra.Command, []string) { e.close() },
	}
	root.AddCommand(
		migrateCmd(e),
		verifyCmd(e),
		projectionsCmd(e),
		keysCmd(e),
		seedCmd(e),
		siemCmd(e),
		checkpointCmd(e),
		auditCmd(e),
		replayCmd(e),
		devResetCmd(e),
		healthCmd(e),
		tlsCmd(e),
	)
	// The commands that are clients of a vault's API (login, secrets,
	// users..., run, export); exit codes per vaultcli.ExitCode.
	root.AddCommand(vaultcli.Commands(&vaultcli.Env{Out: out, Err: errOut})...)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return vaultcli.Usage(err) })
	return root
}

func migrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations as the role DATABASE_URL names (vaultd also does this on start-up)",
		Long: "migrate applies the pending migrations and exits. It reads only DATABASE_URL, so a one-shot\n" +
			"job can run it as the schema's owner without any of the vault's keys, and vaultd can then\n" +
			"connect as a login role that is only a member of vault_app.",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"db": "no"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := slog.New(slog.NewTextHandler(e.errOut, nil))
			if err := wire.Migrate(cmd.Context(), config.Setting(os.LookupEnv, config.EnvDatabaseURL), logger); err != nil {
				return err
			}
			fmt.Fprintln(e.out, "database schema is up to date")
			return nil
		},
	}
}
