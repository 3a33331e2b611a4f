package queries

import (
	"slices"
	"sync"

	"github.com/securevault/vault/domain"
)

// StreamPositions tells the position of the last event of a secret's
// stream as of a position at least atLeast, and false when it cannot yet;
// *fold.View (with fold.PositionsOf(domain.SecretAggregate)) satisfies it.
type StreamPositions interface {
	LastEventOf(streamID string, atLeast int64) (last int64, ok bool)
}

// maxSummaries bounds the secrets a replica answers from memory: their
// rows, a few hundred bytes each (past it, it starts over).
const maxSummaries = 1 << 14

// summaries holds secrets' read-model rows, each with the position the
// read model was known to have applied when it was read. A row serves a
// later read exactly when no event of its secret's stream came after that
// position (StreamPositions tells, as of at least the position the later
// request must see): then it is still what the read model shows. Anything
// else is read again.
type summaries struct {
	positions StreamPositions // nil: nothing is held

	mu   sync.Mutex
	rows map[string]summaryAt
}

type summaryAt struct {
	row      domain.SecretSummary
	position int64
}

func newSummaries(positions StreamPositions) *summaries {
	return &summaries{positions: positions, rows: map[string]summaryAt{}}
}

// current returns the row of secret id when it is current as of atLeast:
// the position the read model was waited for (fold.AwaitReadModel), which
// is at least what the request must see. The view must have reached it
// too, or the row is not trusted.
func (s *summaries) current(id string, atLeast int64) (domain.SecretSummary, bool) {
	if s.positions == nil || atLeast <= 0 {
		return domain.SecretSummary{}, false
	}
	s.mu.Lock()
	held, ok := s.rows[id]
	s.mu.Unlock()
	if !ok {
		return domain.SecretSummary{}, false
	}
	last, ok := s.positions.LastEventOf(domain.StreamID(domain.SecretAggregate, id), atLeast)
	if !ok || last == 0 || last > held.position {
		return domain.SecretSummary{}, false
	}
	row := held.row
	row.Tags = slices.Clone(row.Tags)
	return row, true
}

// keep remembers a row read from the read model after it had applied
// position (0: not known, and the row is not kept).
func (s *summaries) keep(row domain.SecretSummary, position int64) {
	if s.positions == nil || position <= 0 {
		return
	}
	row.Tags = slices.Clone(row.Tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	if held, ok := s.rows[row.ID]; ok && held.position > position {
		return
	}
	if len(s.rows) >= maxSummaries {
		s.rows = map[string]summaryAt{}
	}
	s.rows[row.ID] = summaryAt{row: row, position: position}
}
