package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/projections"
)

func projectionsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Inspect and rebuild read models"}
	newRunner := func() (*projections.Runner, *eventstore.Store, error) {
		store, err := wire.OpenStore(e.cfg, e.pool, e.logger, eventstore.Options{})
		if err != nil {
			return nil, nil, err
		}
		r, err := projections.NewRunner(e.pool, store, nil, e.logger, projections.Options{}, wire.Projections()...)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		return r, store, nil
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each projection's checkpoint and lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, store, err := newRunner()
			if err != nil {
				return err
			}
			defer store.Close()
			sts, err := r.Status(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCHECKPOINT\tHEAD\tLAG\tUPDATED")
			for _, st := range sts {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", st.Name, st.Checkpoint, st.Head, st.Lag, st.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	rebuild := &cobra.Command{
		Use:   "rebuild NAME|all",
		Short: "Rebuild a read model from position 0 while the service keeps running",
		Long: "Rebuild replays the whole log into the read model inside one transaction: readers keep\n" +
			"seeing the old rows until it commits, and the running vaultd instances pause that\n" +
			"projection meanwhile and continue from the rebuilt checkpoint. Same as `vaultctl replay`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.rebuild(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(status, rebuild)
	return cmd
}

// localKeyring opens the local keyring; with KMS_KEY_ID set the master keys
// live in AWS KMS and are managed (and rotated) there.
func (e *env) localKeyring(ctx context.Context) (*keys.Keyring, error) {
	_, keyring, err := wire.OpenKeys(ctx, e.cfg, e.pool, e.logger)
	if err != nil {
		return nil, err
	}
	if keyring == nil {
		return nil, fmt.Errorf("KMS_KEY_ID is set: master keys live in AWS KMS; list and rotate them there (its automatic rotation keeps old versions decryptable)")
	}
	return keyring, nil
}

func keysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the master keys that wrap data keys"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List master keys (ids and dates, never key material)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyring, err := e.localKeyring(cmd.Context())
			if err != nil {
				return err
			}
			defer keyring.Close()
			infos, err := keyring.MasterKeys(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tACTIVE")
			for _, k := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%t\n", k.ID, k.CreatedAt.Format(time.RFC3339), k.Active)
			}
			return tw.Flush()
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new master key and make it the one new data keys are wrapped under",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyring, err := e.localKeyring(cmd.Context())
			if err != nil {
				return err
			}
			defer keyring.Close()
			id, err := keyring.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "new active master key %s\nrunning replicas pick it up within 30s; then run `vaultctl keys rewrap`\n", id)
			return nil
		},
	}
	rewrap := &cobra.Command{
		Use:   "rewrap",
		Short: "Rewrap every data key under the active master key, online",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			provider, keyring, err := wire.OpenKeys(cmd.Context(), e.cfg, e.pool, e.logger)
			if err != nil {
				return err
			}
			if keyring != nil {
				defer keyring.Close()
			}
			store := keys.NewStore(e.pool, provider, e.logger)
			total, err := store.Count(cmd.Context())
			if err != nil {
				return err
			}
			progress, finish := e.progress("rewrapping", "keys", total)
			stats, err := store.Rewrap(cmd.Context(), progress)
			finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "scanned %d, rewrapped %d, vanished meanwhile %d, failed %d\n", stats.Scanned, stats.Rewrapped, stats.Vanished, stats.Failed)
			if stats.Failed > 0 {
				return fmt.Errorf("%d data keys could not be rewrapped; see the log", stats.Failed)
			}
			return nil
		},
	}
	cmd.AddCommand(list, rotate, rewrap)
	return cmd
}
