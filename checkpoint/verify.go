package checkpoint

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
)

// Log is what checking a checkpoint against the event log needs;
// *eventstore.Store satisfies it.
type Log interface {
	Verify(ctx context.Context, progress func(checked, head int64)) (eventstore.VerifyReport, error)
	ReadAll(ctx context.Context, afterPosition int64, limit int) ([]domain.RecordedEvent, error)
}

// Report is the outcome of checking a kept checkpoint.
type Report struct {
	Position int64  `json:"position"`
	KeyID    string `json:"key_id"`
	// SignatureValid: the signature verifies (with the trusted key if one
	// was given).
	SignatureValid bool `json:"signature_valid"`
	// IntactThrough is how far the chain recomputes from position 1.
	IntactThrough int64 `json:"intact_through"`
	// HeadPosition is the log's current head.
	HeadPosition int64 `json:"head_position"`
	// HashMatches: the log holds the checkpoint's position with exactly
	// its hash.
	HashMatches bool   `json:"hash_matches"`
	OK          bool   `json:"ok"`
	Reason      string `json:"reason,omitempty"`
}

// Compare checks c's signature (against trusted when not nil), then that
// the log's head has not moved back below c and that the log holds exactly
// c's hash at c's position, read through the store's link checks. It does
// not walk the chain: it is for a caller that verified the chain already
// (vaultctl verify) or that only needs the tail witnessed (vaultd).
func Compare(ctx context.Context, log EventReader, c Checkpoint, trusted ed25519.PublicKey) (Report, error) {
	r := Report{Position: c.Position, KeyID: c.KeyID}
	if err := c.VerifySignature(trusted); err != nil {
		r.Reason = err.Error()
		return r, nil
	}
	r.SignatureValid = true
	head, err := log.HeadPosition(ctx)
	if err != nil {
		return r, fmt.Errorf("read the log's head: %w", err)
	}
	r.HeadPosition = head
	if head < c.Position {
		r.Reason = fmt.Sprintf("the log ends at position %d, before the checkpoint's %d: its tail was cut", head, c.Position)
		return r, nil
	}
	events, err := log.ReadAll(ctx, c.Position-1, 1)
	if err != nil {
		return r, fmt.Errorf("read position %d: %w", c.Position, err)
	}
	r.HashMatches = len(events) == 1 && events[0].Position == c.Position && bytes.Equal(events[0].Hash, c.Hash)
	if !r.HashMatches {
		r.Reason = fmt.Sprintf("the log holds a different event at position %d than the one signed: it was rewritten", c.Position)
		return r, nil
	}
	r.IntactThrough = c.Position
	r.OK = true
	return r, nil
}

// Check verifies c's signature (against trusted when not nil), then that
// the log recomputes intact from position 1 through c.Position, holds
// exactly c.Hash there, and has not been cut below it. progress is passed to
// the chain walk.
func Check(ctx context.Context, log Log, c Checkpoint, trusted ed25519.PublicKey, progress func(checked, head int64)) (Report, error) {
	r := Report{Position: c.Position, KeyID: c.KeyID}
	if err := c.VerifySignature(trusted); err != nil {
		r.Reason = err.Error()
		return r, nil
	}
	r.SignatureValid = true
	chain, err := log.Verify(ctx, progress)
	if err != nil {
		return r, fmt.Errorf("walk the hash chain: %w", err)
	}
	r.HeadPosition = chain.HeadPosition
	// Verify counts the links that recompute, from position 1 without a
	// gap, so that count is how far the log is intact.
	r.IntactThrough = chain.Checked
	events, err := log.ReadAll(ctx, c.Position-1, 1)
	if err != nil {
		return r, fmt.Errorf("read position %d: %w", c.Position, err)
	}
	r.HashMatches = len(events) == 1 && events[0].Position == c.Position && bytes.Equal(events[0].Hash, c.Hash)
	switch {
	case r.IntactThrough < c.Position && chain.HeadPosition < c.Position:
		r.Reason = fmt.Sprintf("the log ends at position %d, before the checkpoint's %d: its tail was cut", max(chain.Checked, chain.HeadPosition), c.Position)
	case r.IntactThrough < c.Position:
		r.Reason = fmt.Sprintf("the chain breaks at position %d, before the checkpoint's %d: %s", chain.FirstBadPosition, c.Position, chain.Reason)
	case !r.HashMatches:
		r.Reason = fmt.Sprintf("the log holds a different event at position %d than the one signed: it was rewritten", c.Position)
	case chain.HeadPosition < c.Position:
		r.Reason = fmt.Sprintf("the chain head claims position %d, before the checkpoint's %d", chain.HeadPosition, c.Position)
	default:
		r.OK = true
	}
	return r, nil
}
