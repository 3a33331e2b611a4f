package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/projections"
)

// replayCmd re-applies the log to read models while the service runs.
//
// --from accepts only 0. A read model is a fold of the log; replaying from
// position N into it would need its state as of N, which no projection keeps
// (a checkpoint says how far a model got, not what it looked like then), and
// replaying from N into the current rows would apply events N+1.. twice.
// So a replay always starts from the beginning of the log, in one
// transaction per projection, and readers see the old rows until it commits.
// The flag exists so that a script asking for a partial replay gets a clear
// refusal rather than a silent full one.
func replayCmd(e *env) *cobra.Command {
	var name string
	var from int64
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Re-apply the event log to rebuild one or all read models, online",
		Long: "Replay rebuilds read models from the event log while vaultd keeps running: each projection is\n" +
			"reset and replayed up to the head of the log in one transaction (readers keep the old rows until\n" +
			"it commits), then the running services continue from there. Only --from 0 is supported: a read\n" +
			"model is a fold of the whole log, and none keeps its state as of a past position.",
		// Checked as an argument rule so a refused --from never opens (or
		// migrates) the database.
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("replay takes no arguments; name a projection with --projection")
			}
			if from != 0 {
				return fmt.Errorf("--from %d: a read model can only be replayed from position 0; it is a fold of the "+
					"whole log and no projection keeps its state as of a past position, so replaying from %d would "+
					"either miss events 1..%d or apply later ones twice (use --from 0)", from, from, from)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.rebuild(cmd.Context(), name)
		},
	}
	cmd.Flags().StringVar(&name, "projection", "all", "projection to rebuild, or all")
	cmd.Flags().Int64Var(&from, "from", 0, "log position to replay from; only 0 is supported (see the help)")
	return cmd
}

// rebuild replays the log into one projection, or all of them, printing
// the events/s of each.
func (e *env) rebuild(ctx context.Context, name string) error {
	all := wire.Projections()
	names := make([]string, 0, len(all))
	for _, p := range all {
		names = append(names, p.Name())
	}
	if name != "all" {
		if !slices.Contains(names, name) {
			return fmt.Errorf("no projection named %q; known: all, %s", name, strings.Join(names, ", "))
		}
		names = []string{name}
	}
	store, err := wire.OpenStore(e.cfg, e.pool, e.logger, eventstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := projections.NewRunner(e.pool, store, nil, e.logger, projections.Options{}, all...)
	if err != nil {
		return err
	}
	for _, n := range names {
		head, err := store.HeadPosition(ctx)
		if err != nil {
			return err
		}
		progress, finish := e.progress("replaying "+n, "events", head)
		started := time.Now()
		var total int64
		err = r.Rebuild(ctx, n, func(done, head int64) {
			total = head
			progress(done, head)
		})
		finish()
		if err != nil {
			return fmt.Errorf("replay %s: %w", n, err)
		}
		elapsed := time.Since(started)
		fmt.Fprintf(e.out, "replayed %s: positions 1..%d in %s (%.0f events/s)\n",
			n, total, elapsed.Round(time.Millisecond), float64(total)/max(elapsed.Seconds(), 1e-9))
	}
	return nil
}
