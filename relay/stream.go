// The stream itself: making sure it exists with the settings the relay
// relies on, and learning what it holds before publishing after it.

package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// sync makes sure the stream exists and learns what it really holds.
func (r *Relay) sync(ctx context.Context, cur *cursor) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	stream, err := r.ensureStream(cctx)
	if err != nil {
		return err
	}
	info, err := stream.Info(cctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		// New, purged or expired: resume after the checkpoint. An operator
		// who wants the whole log replayed resets the checkpoint to 0.
		published, err := r.checkpoint(ctx)
		if err != nil {
			return err
		}
		*cur = cursor{published: published, lastSeq: info.State.LastSeq}
		return nil
	}
	tail, err := readTail(cctx, stream, info)
	if err != nil {
		return err
	}
	disagreement, err := compareTail(ctx, r.events, r.cfg.Stream, tail)
	if err != nil {
		if r.tampered() { // the store's own check of the event failed
			return errTampered
		}
		return err
	}
	if disagreement != nil {
		r.streamAhead(*disagreement)
		return errTampered
	}
	*cur = cursor{published: tail.Position, lastMsgID: tail.EventID, lastSeq: info.State.LastSeq}
	r.saveCheckpoint(ctx, tail.Position)
	return nil
}

// ensureStream creates the stream, or corrects the settings the relay
// depends on (its subjects and de-duplication window), and scales its
// replicas up to Config.Replicas, never down: fewer replicas than the
// configuration asks for would lose acknowledged events with one server,
// while more are an operator's deliberate choice. Retention and limits are
// the operator's.
func (r *Relay) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	subjects := []string{r.cfg.SubjectPrefix + ".>"}
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		stream, err = r.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        r.cfg.Stream,
			Description: "Secure Vault events, redacted, in log order",
			Subjects:    subjects,
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Duplicates:  r.cfg.DuplicateWindow,
			Replicas:    r.cfg.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", r.cfg.Stream, err)
		}
		return stream, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", r.cfg.Stream, err)
	}
	cfg := stream.CachedInfo().Config
	if slices.Equal(cfg.Subjects, subjects) && cfg.Duplicates == r.cfg.DuplicateWindow && cfg.Replicas >= r.cfg.Replicas {
		return stream, nil
	}
	cfg.Subjects, cfg.Duplicates, cfg.Replicas = subjects, r.cfg.DuplicateWindow, max(cfg.Replicas, r.cfg.Replicas)
	if stream, err = r.js.UpdateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("update stream %s: %w", r.cfg.Stream, err)
	}
	return stream, nil
}
