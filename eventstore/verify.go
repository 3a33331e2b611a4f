package eventstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/securevault/vault/eventstore/internal/esdb"
)

// VerifyReport is the outcome of walking the hash chain.
type VerifyReport struct {
	// Checked counts the events whose hash was recomputed.
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
}

// Verify recomputes the hash chain from position 1 and reports the first
// position whose stored row does not match: a changed field, a removed or
// inserted row, or a head that does not point at the last event. progress,
// if not nil, is called after each page with the positions checked so far.
func (s *Store) Verify(ctx context.Context, progress func(checked, head int64)) (VerifyReport, error) {
	head, err := s.queries.ChainHead(ctx, s.pool)
	if err != nil {
		return VerifyReport{}, translate(fmt.Errorf("read chain head: %w", err))
	}
	report := VerifyReport{HeadPosition: head.Position, HeadHash: head.Hash}
	prev := genesisHash()
	var after int64
	for {
		rows, err := s.queries.ReadAll(ctx, s.pool, esdb.ReadAllParams{Position: after, Limit: maxPage})
		if err != nil {
			return report, translate(fmt.Errorf("read log after %d: %w", after, err))
		}
		for _, r := range rows {
			if reason := checkLink(r, after+1, prev); reason != "" {
				report.FirstBadPosition, report.Reason = after+1, reason
				return report, nil
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
		report.FirstBadPosition = min(after, head.Position) + 1
		report.Reason = fmt.Sprintf("the chain head claims position %d but the log ends at %d", head.Position, after)
	case !bytes.Equal(prev, head.Hash):
		report.FirstBadPosition = after
		report.Reason = "the chain head's hash does not match the last event"
	default:
		report.OK = true
	}
	return report, nil
}

func checkLink(r esdb.Event, wantPosition int64, prev []byte) string {
	if r.Position != wantPosition {
		return fmt.Sprintf("expected position %d, found %d: events are missing", wantPosition, r.Position)
	}
	if !bytes.Equal(r.PrevHash, prev) {
		return "the stored previous hash does not match the preceding event"
	}
	want := chainHash(prev, r.Position, r.StreamID, r.Version, r.EventID.Bytes, r.Type, r.SchemaVersion,
		r.Data, r.Metadata, r.RecordedAt.Time)
	if !bytes.Equal(want, r.Hash) {
		return "the event's content does not match its hash"
	}
	return ""
}
