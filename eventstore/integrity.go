package eventstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore/internal/esdb"
)

// Alarm is told when the log fails an integrity check and latches the
// replica into a "tampered" state that stops it serving until an operator
// acts. One component holds that state for the whole process; the store
// reports to it and consults it before every append.
type Alarm interface {
	Trip(position int64, reason string)
	Tripped() bool
}

// TamperError says where and how the log failed its integrity check. Reads
// and appends return it wrapped in an EUNAVAILABLE error: the client sees a
// 503, never the event, and never a 500.
type TamperError struct {
	Position int64
	Reason   string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("event log integrity violation at position %d: %s", e.Position, e.Reason)
}

// AsTamper returns the integrity violation err reports, if it reports one.
func AsTamper(err error) (*TamperError, bool) {
	var te *TamperError
	ok := errors.As(err, &te)
	return te, ok
}

const tamperedMessage = "the event log failed its integrity check; this replica refuses to serve from it until an operator acts"

// tampered trips the alarm and returns the error every caller that hit the
// bad event gets.
func (s *Store) tampered(position int64, reason string) error {
	if s.alarm != nil {
		s.alarm.Trip(position, reason)
	}
	return domain.WrapError(domain.EUNAVAILABLE, tamperedMessage, &TamperError{Position: position, Reason: reason})
}

// errLatched is why appends are refused once the alarm has latched.
var errLatched = errors.New("the integrity alarm has latched")

// refuseIfTampered stops appends once the alarm has latched: a new link
// would extend (and key) a chain already known to be forged or cut short,
// and could hand out positions JetStream already holds.
func (s *Store) refuseIfTampered() error {
	if s.alarm != nil && s.alarm.Tripped() {
		return domain.WrapError(domain.EUNAVAILABLE, tamperedMessage, errLatched)
	}
	return nil
}

// integrityFailure reports whether err is a failed integrity check or the
// refusal that follows one: every append of a batch fails alike then.
func integrityFailure(err error) bool {
	_, ok := AsTamper(err)
	return ok || errors.Is(err, errLatched)
}

func fieldsOf(r *esdb.Event) linkFields {
	return linkFields{
		position: r.Position, streamID: r.StreamID, version: r.Version, eventID: r.EventID.Bytes,
		eventType: r.Type, schemaVersion: r.SchemaVersion, data: r.Data, metadata: r.Metadata,
		recordedAt: r.RecordedAt.Time,
	}
}

// sealState remembers, once it is settled, the highest position that may
// carry an unkeyed SHA-256 link. It only ever settles in one direction (a
// log is sealed once), so a settled answer is kept for the store's life.
type sealState struct {
	mu      sync.Mutex
	settled bool
	limit   int64
}

// legacyLimit is the highest position whose link may be unkeyed:
//   - the position the ChainKeyed seal names, when the log has a seal;
//   - 0 when the log is empty or its first event is keyed (it was keyed
//     from the start, so no unkeyed link is ever acceptable);
//   - unbounded while the log is entirely unkeyed and not yet sealed, which
//     only lasts until the first append (or vaultd's start-up) seals it.
func (s *Store) legacyLimit(ctx context.Context) (int64, error) {
	s.seal.mu.Lock()
	settled, limit := s.seal.settled, s.seal.limit
	s.seal.mu.Unlock()
	if settled {
		return limit, nil
	}
	seal, err := s.queries.ReadStream(ctx, s.pool, esdb.ReadStreamParams{StreamID: domain.ChainSealStream, Version: 0, Limit: 1})
	if err != nil {
		return 0, translate(fmt.Errorf("read the chain seal: %w", err))
	}
	if len(seal) == 1 {
		limit, reason := s.checkSeal(&seal[0])
		if reason != "" {
			return 0, s.tampered(seal[0].Position, reason)
		}
		s.settle(limit)
		return limit, nil
	}
	first, err := s.queries.ReadAll(ctx, s.pool, esdb.ReadAllParams{Position: 0, Limit: 1})
	if err != nil {
		return 0, translate(fmt.Errorf("read the first event: %w", err))
	}
	if len(first) == 0 || first[0].HashKeyID.Valid {
		s.settle(0)
		return 0, nil
	}
	return math.MaxInt64, nil
}

func (s *Store) settle(limit int64) {
	s.seal.mu.Lock()
	s.seal.settled, s.seal.limit = true, limit
	s.seal.mu.Unlock()
}

// checkSeal validates the ChainKeyed event and returns the position it
// seals, or why it is not a valid seal.
func (s *Store) checkSeal(r *esdb.Event) (int64, string) {
	if !r.HashKeyID.Valid {
		return 0, "the chain seal carries an unkeyed link"
	}
	if reason := s.checkKeyed(r); reason != "" {
		return 0, reason
	}
	var seal domain.ChainKeyed
	if r.Type != domain.EventChainKeyed || json.Unmarshal(r.Data, &seal) != nil {
		return 0, "the chain seal stream holds something other than a ChainKeyed event"
	}
	if r.Position != seal.SealedPosition+1 || hex.EncodeToString(r.PrevHash) != seal.SealedHash {
		return 0, "the chain seal does not follow the link it claims to seal"
	}
	return seal.SealedPosition, ""
}

// linkChecker checks rows against their links. It looks the legacy limit up
// at most once, and only when it meets an unkeyed link.
type linkChecker struct {
	s         *Store
	limit     int64
	haveLimit bool
}

func (s *Store) newChecker() *linkChecker { return &linkChecker{s: s} }

// check recomputes r's link from its stored previous hash and fields with
// the key its id names, and returns why it does not match ("" if it does).
func (c *linkChecker) check(ctx context.Context, r *esdb.Event) (string, error) {
	if r.HashKeyID.Valid {
		return c.s.checkKeyed(r), nil
	}
	if !c.haveLimit {
		limit, err := c.s.legacyLimit(ctx)
		if err != nil {
			return "", err
		}
		c.limit, c.haveLimit = limit, true
	}
	if r.Position > c.limit {
		return fmt.Sprintf("the event carries an unkeyed SHA-256 link, but the chain is keyed from position %d on", c.limit+1), nil
	}
	f := fieldsOf(r)
	if !linksEqual(legacyLink(r.PrevHash, &f), r.Hash) {
		return "the event's content does not match its hash", nil
	}
	return "", nil
}

func (s *Store) checkKeyed(r *esdb.Event) string {
	key, ok := s.keys.byKeyID(r.HashKeyID.String)
	if !ok {
		return fmt.Sprintf("the link names chain key %q, which this replica does not hold (set it in VAULT_CHAIN_KEY_PREVIOUS if it is a former key)", r.HashKeyID.String)
	}
	f := fieldsOf(r)
	if !linksEqual(keyedLink(key, r.PrevHash, &f), r.Hash) {
		return "the event's content does not match its keyed link"
	}
	return ""
}

// checkStream verifies a page of one stream read with version >
// afterVersion: every link, and versions that follow each other from
// afterVersion+1 (a stream's versions have no gaps, so a missing one was
// deleted).
func (s *Store) checkStream(ctx context.Context, afterVersion int64, rows []esdb.Event) error {
	c := s.newChecker()
	wantVersion, lastPosition := afterVersion+1, int64(0)
	for i := range rows {
		r := &rows[i]
		if r.Version != wantVersion {
			return s.tampered(r.Position, fmt.Sprintf("stream %s jumps from version %d to %d: events are missing", r.StreamID, wantVersion-1, r.Version))
		}
		if r.Position <= lastPosition {
			return s.tampered(r.Position, fmt.Sprintf("stream %s is out of position order at version %d", r.StreamID, r.Version))
		}
		reason, err := c.check(ctx, r)
		if err != nil {
			return err
		}
		if reason != "" {
			return s.tampered(r.Position, reason)
		}
		wantVersion, lastPosition = r.Version+1, r.Position
	}
	return nil
}

// checkLog verifies a page of the log. When after > 0 the page starts with
// the event at after (read for this purpose) so the first new event's
// previous hash can be checked too; checkLog returns the rows after it.
// Every position must follow the one before and every stored previous hash
// must equal the preceding event's hash.
func (s *Store) checkLog(ctx context.Context, after int64, rows []esdb.Event) ([]esdb.Event, error) {
	c := s.newChecker()
	prev := genesisHash()
	if after > 0 {
		if len(rows) == 0 {
			return nil, nil // the log ends before after
		}
		if rows[0].Position != after {
			return nil, s.tampered(after, fmt.Sprintf("expected position %d, found %d: events are missing", after, rows[0].Position))
		}
		reason, err := c.check(ctx, &rows[0])
		if err != nil {
			return nil, err
		}
		if reason != "" {
			return nil, s.tampered(after, reason)
		}
		prev, rows = rows[0].Hash, rows[1:]
	}
	want := after + 1
	for i := range rows {
		r := &rows[i]
		reason, err := c.checkChained(ctx, r, want, prev)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			return nil, s.tampered(want, reason)
		}
		prev, want = r.Hash, r.Position+1
	}
	return rows, nil
}

// checkChained checks that r is the event at want whose predecessor's hash
// is prev, and that its own link holds.
func (c *linkChecker) checkChained(ctx context.Context, r *esdb.Event, want int64, prev []byte) (string, error) {
	if r.Position != want {
		return fmt.Sprintf("expected position %d, found %d: events are missing", want, r.Position), nil
	}
	if !bytes.Equal(r.PrevHash, prev) {
		return "the stored previous hash does not match the preceding event", nil
	}
	return c.check(ctx, r)
}
