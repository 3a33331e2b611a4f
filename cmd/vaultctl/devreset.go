package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/devstate"
)

// devResetCmd drops the dev database and its dev state on purpose, without
// a prompt (it is `make dev-reset`). It reads only VAULT_ENV, DATABASE_URL
// and VAULT_DATA_DIR, so it works exactly when the rest does not: keys that
// do not match the database.
func devResetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "dev-reset",
		Short: "Drop the dev database and its dev state (generated keys, embedded JetStream data); dev mode only",
		Long: "dev-reset drops the database DATABASE_URL names and removes the dev state kept for it under\n" +
			"VAULT_DATA_DIR (by default <user config dir>/securevault/dev), and this checkout's ./.vault-dev.\n" +
			"Everything stored in that database is gone. It refuses to run with VAULT_ENV=production.",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"db": "no"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode := strings.ToLower(config.Setting(os.LookupEnv, config.EnvMode)); mode != string(config.ModeDev) {
				return fmt.Errorf("dev-reset drops the database: it runs only with %s=dev, not %q", config.EnvMode, mode)
			}
			legacy := ""
			if config.Setting(os.LookupEnv, config.EnvDataDir) == "" {
				legacy = config.LegacyDataDir
			}
			root := config.DevRoot(os.LookupEnv)
			removed, err := devstate.Reset(cmd.Context(), config.Setting(os.LookupEnv, config.EnvDatabaseURL), root, legacy)
			for _, r := range removed {
				fmt.Fprintln(e.out, "removed", r)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, "dev state reset: `make run` creates the database and new dev keys")
			return nil
		},
	}
}
