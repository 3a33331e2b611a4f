package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/eventstore"
)

func checkpointCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "checkpoint", Short: "Signed checkpoints of the event log's hash chain"}
	var out string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the latest signed checkpoint (with its public key) to a file for an auditor to keep",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := checkpoint.Latest(cmd.Context(), e.pool)
			if err != nil {
				return err
			}
			if err := c.VerifySignature(nil); err != nil {
				return fmt.Errorf("the latest recorded checkpoint does not verify: %w", err)
			}
			b, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if out == "" || out == "-" {
				_, err = e.out.Write(b)
				return err
			}
			// O_EXCL: an auditor's kept checkpoint is never overwritten.
			f, err := os.OpenFile(filepath.Clean(out), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) //nolint:gosec // G302: a signed checkpoint holds no secret and is meant for auditors to read
			if err != nil {
				return fmt.Errorf("write checkpoint: %w", err)
			}
			if _, err := f.Write(b); err != nil {
				_ = f.Close()
				return fmt.Errorf("write checkpoint: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write checkpoint: %w", err)
			}
			fmt.Fprintf(e.errOut, "wrote checkpoint at position %d (key %s) to %s\n", c.Position, c.KeyID, out)
			return nil
		},
	}
	export.Flags().StringVar(&out, "out", "", "file to create (default: stdout)")
	cmd.AddCommand(export)
	return cmd
}

// verifyCheckpoint is verify --checkpoint: the kept checkpoint against the
// live log.
func verifyCheckpoint(e *env, cmd *cobra.Command, store *eventstore.Store, file, publicKey string, asJSON bool) error {
	b, err := os.ReadFile(filepath.Clean(file))
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	c, err := checkpoint.Parse(b)
	if err != nil {
		return err
	}
	var trusted []byte
	if publicKey != "" {
		if trusted, err = checkpoint.ParsePublicKey(publicKey); err != nil {
			return err
		}
	}
	// The whole chain is recomputed, then compared at the checkpoint.
	head, err := store.HeadPosition(cmd.Context())
	if err != nil {
		return err
	}
	progress, finish := e.progress("verifying", "events", head)
	report, err := checkpoint.Check(cmd.Context(), store, c, trusted, progress)
	finish()
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else if report.OK {
		fmt.Fprintf(e.out, "OK: checkpoint at position %d (key %s) matches the log; head position %d\n",
			report.Position, report.KeyID, report.HeadPosition)
	} else {
		fmt.Fprintf(e.out, "FAILED: checkpoint at position %d: %s\n", report.Position, report.Reason)
	}
	if !report.OK {
		return fmt.Errorf("checkpoint verification failed: %s", report.Reason)
	}
	return nil
}
