package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/projections/streams"
)

func seedCmd(e *env) *cobra.Command {
	var demoPassword string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Create the demo users, roles and policies (alice, bob, developer, auditor, ...) that do not exist yet",
		Long: "Seed is idempotent: running it again, or on two machines at once, creates each item once.\n" +
			"The demo users get the password from --password or VAULT_SEED_PASSWORD.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if demoPassword == "" {
				demoPassword = os.Getenv("VAULT_SEED_PASSWORD")
			}
			if demoPassword == "" {
				return fmt.Errorf("give the demo users a password with --password or VAULT_SEED_PASSWORD")
			}
			store, err := wire.OpenStore(e.cfg, e.pool, e.logger, eventstore.Options{})
			if err != nil {
				return err
			}
			defer store.Close()
			// No read-model waiter: vaultctl does not run projections, the
			// vaultd instances pick the events up.
			svc := commands.NewService(store, nil, e.logger, commands.Options{Snapshots: wire.Snapshots(store)})
			provider, keyring, err := wire.OpenKeys(cmd.Context(), e.cfg, e.pool, e.logger)
			if err != nil {
				return err
			}
			if keyring != nil {
				defer keyring.Close()
			}
			ident, err := wire.NewIdentity(svc, e.cfg, keys.NewStore(e.pool, provider, e.logger), streams.NewCatalog(e.pool))
			if err != nil {
				return err
			}
			report, err := ident.Seed(cmd.Context(), demoPassword)
			if err != nil {
				return err
			}
			if len(report.Created) == 0 {
				fmt.Fprintln(e.out, "the demo set exists already; nothing to do")
				return nil
			}
			for _, item := range report.Created {
				fmt.Fprintln(e.out, "created", item)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&demoPassword, "password", "", "password of the demo users (default: $VAULT_SEED_PASSWORD)")
	return cmd
}
