package eventstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/securevault/vault/eventstore/internal/esdb"
)

// VerifyReport is the outcome of walking the hash chain.
type VerifyReport struct {
	// Checked counts the events whose link was recomputed and matched.
	Checked int64 `json:"checked"`
	// HeadPosition and HeadHash are what the chain-head row claims.
	HeadPosition int64  `json:"head_position"`
	HeadHash     []byte `json:"head_hash"`
	// OK is true when every link and the head match.
	OK bool `json:"ok"`
	// FirstBadPosition is the first position that does not match (0 if OK).
	FirstBadPosition int64  `json:"first_bad_position,omitempty"`
	Reason           string `json:"reason,omitempty"`
	// LastHash is the recomputed hash at the last checked position, which a
	// signed checkpoint can be compared with.
	LastHash []byte `json:"last_hash"`
	// LegacyThrough is the last position whose link is unkeyed SHA-256
	// (events written before the chain was keyed, sealed by the event
	// after them); 0 when every link is keyed.
	LegacyThrough int64 `json:"legacy_through,omitempty"`
	// KeyIDs are the chain keys (by id) the checked links were made under.
	KeyIDs []string `json:"key_ids,omitempty"`
}

// Verify recomputes the chain from position 1, each link with the key its
// id names, and reports the first position whose stored row does not match:
// a changed field, a removed or inserted row, an unknown key, an unkeyed
// link after the seal, or a head that does not point at the last event.
// progress, if not nil, is called after each page with the positions
// checked so far. A violation also trips the store's alarm.
func (s *Store) Verify(ctx context.Context, progress func(checked, head int64)) (VerifyReport, error) {
	head, err := s.queries.ChainHead(ctx, s.pool)
	if err != nil {
		return VerifyReport{}, translate(fmt.Errorf("read chain head: %w", err))
	}
	report := VerifyReport{HeadPosition: head.Position, HeadHash: head.Hash}
	c := s.newChecker()
	prev := genesisHash()
	var after int64
	fail := func(position int64, reason string) (VerifyReport, error) {
		report.FirstBadPosition, report.Reason = position, reason
		_ = s.tampered(position, reason)
		return report, nil
	}
	for {
		rows, err := s.queries.ReadAll(ctx, s.pool, esdb.ReadAllParams{Position: after, Limit: maxPage})
		if err != nil {
			return report, translate(fmt.Errorf("read log after %d: %w", after, err))
		}
		for i := range rows {
			r := &rows[i]
			reason, err := c.checkChained(ctx, r, after+1, prev)
			if err != nil {
				if te, ok := AsTamper(err); ok {
					return fail(te.Position, te.Reason)
				}
				return report, err
			}
			if reason != "" {
				return fail(after+1, reason)
			}
			if r.HashKeyID.Valid {
				if !slices.Contains(report.KeyIDs, r.HashKeyID.String) {
					report.KeyIDs = append(report.KeyIDs, r.HashKeyID.String)
				}
			} else {
				report.LegacyThrough = r.Position
			}
			prev, after = r.Hash, r.Position
			report.Checked++
		}
		if progress != nil {
			progress(after, head.Position)
		}
		if len(rows) < maxPage {
			break
		}
	}
	report.LastHash = prev
	switch {
	case after != head.Position:
		return fail(min(after, head.Position)+1, fmt.Sprintf("the chain head claims position %d but the log ends at %d", head.Position, after))
	case !bytes.Equal(prev, head.Hash):
		return fail(after, "the chain head's hash does not match the last event")
	}
	report.OK = true
	return report, nil
}
