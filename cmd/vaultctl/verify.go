package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/relay"
)

// verifyResult is everything `vaultctl verify` checked.
type verifyResult struct {
	Chain eventstore.VerifyReport `json:"chain"`
	// Stream compares the events stream's last message with the log.
	Stream *streamWitness `json:"event_stream,omitempty"`
	// Checkpoint compares the newest published checkpoint with the log.
	Checkpoint *checkpoint.Report `json:"checkpoint,omitempty"`
	// NotCompared says why a witness outside the database was not used.
	NotCompared []string `json:"not_compared,omitempty"`
	OK          bool     `json:"ok"`
}

type streamWitness struct {
	Stream       string              `json:"stream"`
	Tail         *relay.Tail         `json:"tail,omitempty"`
	Disagreement *relay.Disagreement `json:"disagreement,omitempty"`
}

func verifyCmd(e *env) *cobra.Command {
	var asJSON bool
	var checkpointFile, publicKey string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the event log: every keyed link from position 1, then its tail against JetStream",
		Long: "verify recomputes every link of the chain (HMAC-SHA256 under the chain key its id names,\n" +
			"SHA-256 for a sealed legacy prefix) and names the first position that does not match.\n" +
			"With NATS_URL set it then compares the log with the witnesses outside the database: the\n" +
			"events stream's last message must be in the log at its position, and the newest signed\n" +
			"checkpoint on the checkpoint stream must match the chain. A truncated or rolled-back tail\n" +
			"is reported there. Exit status 1 when anything disagrees.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := wire.OpenStore(e.cfg, e.pool, e.logger, eventstore.Options{})
			if err != nil {
				return err
			}
			defer store.Close()
			if checkpointFile != "" {
				return verifyCheckpoint(e, cmd, store, checkpointFile, publicKey, asJSON)
			}
			trusted, err := e.trustedCheckpointKey(publicKey)
			if err != nil {
				return err
			}
			head, err := store.HeadPosition(cmd.Context())
			if err != nil {
				return err
			}
			progress, finish := e.progress("verifying", "events", head)
			started := time.Now()
			chain, err := store.Verify(cmd.Context(), progress)
			finish()
			if err != nil {
				return err
			}
			result := verifyResult{Chain: chain}
			e.compareWitnesses(cmd.Context(), store, trusted, &result)
			result.OK = chain.OK && (result.Stream == nil || result.Stream.Disagreement == nil) &&
				(result.Checkpoint == nil || result.Checkpoint.OK)
			if asJSON {
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(result); err != nil {
					return err
				}
			} else {
				e.printVerify(result, time.Since(started))
			}
			if !result.OK {
				return errors.New("the event log failed verification")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&checkpointFile, "checkpoint", "", "check the log against a kept signed checkpoint file")
	cmd.Flags().StringVar(&publicKey, "public-key", "", "the signing public key (hex or base64) checkpoints must carry (default: the one of VAULT_CHECKPOINT_KEY)")
	return cmd
}

// compareWitnesses compares the log with the events stream and the
// checkpoint stream, when NATS is configured and reachable.
func (e *env) compareWitnesses(ctx context.Context, store *eventstore.Store, trusted ed25519.PublicKey, result *verifyResult) {
	if e.cfg.NATSURL == "" {
		result.NotCompared = append(result.NotCompared, fmt.Sprintf(
			"JetStream: NATS_URL is not set (in dev mode the embedded server keeps its data under %s, which only the running vaultd opens): the tail of the log was not compared with a witness",
			filepath.Join(e.cfg.StateDir, "jetstream")))
		return
	}
	nc, err := nats.Connect(e.cfg.NATSURL, nats.Name("vaultctl verify"), nats.Timeout(5*time.Second))
	if err != nil {
		result.NotCompared = append(result.NotCompared, fmt.Sprintf("JetStream: cannot connect to NATS_URL: %v", err))
		return
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	tail, disagreement, err := relay.CheckStream(cctx, nc, e.cfg.JetStreamStream, store)
	switch {
	case err != nil:
		result.NotCompared = append(result.NotCompared, fmt.Sprintf("JetStream stream %s: %v", e.cfg.JetStreamStream, err))
	case tail == nil:
		result.NotCompared = append(result.NotCompared, fmt.Sprintf("JetStream stream %s is empty", e.cfg.JetStreamStream))
	default:
		result.Stream = &streamWitness{Stream: e.cfg.JetStreamStream, Tail: tail, Disagreement: disagreement}
	}

	c, err := checkpoint.LatestPublished(cctx, nc, e.cfg.JetStreamStream)
	switch {
	case err != nil:
		result.NotCompared = append(result.NotCompared, fmt.Sprintf("checkpoint stream: %v", err))
	case c == nil:
		result.NotCompared = append(result.NotCompared, "checkpoint stream: no checkpoint published yet")
	default:
		report, err := checkpoint.Compare(cctx, store, *c, trusted)
		if err != nil {
			result.NotCompared = append(result.NotCompared, fmt.Sprintf("checkpoint at position %d: %v", c.Position, err))
			return
		}
		result.Checkpoint = &report
	}
}

// trustedCheckpointKey is the public key checkpoints must be signed with:
// --public-key, else the one of VAULT_CHECKPOINT_KEY (or dev mode's key
// file), else none (the embedded key is checked only for consistency).
func (e *env) trustedCheckpointKey(flag string) (ed25519.PublicKey, error) {
	if flag != "" {
		return checkpoint.ParsePublicKey(flag)
	}
	seed := string(e.cfg.CheckpointKey.Bytes())
	if seed == "" && !e.cfg.Production() {
		b, err := os.ReadFile(filepath.Join(e.cfg.StateDir, checkpoint.DevKeyFileName))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read the dev checkpoint key: %w", err)
		}
		seed = string(b)
	}
	if seed == "" {
		return nil, nil
	}
	key, err := checkpoint.ParseKey(seed)
	if err != nil {
		return nil, err
	}
	return key.Public().(ed25519.PublicKey), nil
}

func (e *env) printVerify(r verifyResult, took time.Duration) {
	c := r.Chain
	if c.OK {
		fmt.Fprintf(e.out, "OK: %d events verified in %s; head position %d, hash %x\n",
			c.Checked, took.Round(time.Millisecond), c.HeadPosition, c.HeadHash)
		if len(c.KeyIDs) > 0 {
			fmt.Fprintf(e.out, "    links keyed under chain key %s\n", strings.Join(c.KeyIDs, ", "))
		}
		if c.LegacyThrough > 0 {
			fmt.Fprintf(e.out, "    positions 1..%d carry unkeyed SHA-256 links, sealed by the keyed link at %d\n", c.LegacyThrough, c.LegacyThrough+1)
		}
	} else {
		fmt.Fprintf(e.out, "TAMPERED: first bad position %d: %s (%d events verified before it)\n",
			c.FirstBadPosition, c.Reason, c.Checked)
	}
	if s := r.Stream; s != nil {
		if s.Disagreement != nil {
			fmt.Fprintf(e.out, "TAMPERED: position %d: %s\n", s.Disagreement.Position, s.Disagreement.Reason)
		} else {
			fmt.Fprintf(e.out, "OK: JetStream stream %s ends with event %s at position %d, which the log holds there\n",
				s.Stream, s.Tail.EventID, s.Tail.Position)
		}
	}
	if cp := r.Checkpoint; cp != nil {
		if cp.OK {
			fmt.Fprintf(e.out, "OK: the newest published checkpoint (position %d, key %s) matches the log\n", cp.Position, cp.KeyID)
		} else {
			fmt.Fprintf(e.out, "TAMPERED: published checkpoint at position %d (key %s): %s\n", cp.Position, cp.KeyID, cp.Reason)
		}
	}
	for _, why := range r.NotCompared {
		fmt.Fprintf(e.out, "not compared: %s\n", why)
	}
}
