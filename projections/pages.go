package projections

import (
	"context"
	"sync"

	"github.com/securevault/vault/domain"
)

// pages shares reads of the log among the projections of one Runner: the
// projections of a replica mostly sit at the same checkpoint and are woken
// by the same notification, so one read of the page after it serves them
// all instead of one read per projection.
//
// Sharing stays exact through wake-up generations. The runner counts the
// wake-ups it hands out (gen). A projection woken at generation g may only
// use a read that began at generation g or later: the notification behind
// g was sent after its events committed, so such a read sees them. A read
// that began earlier may predate them; the projection reads again.
type pages struct {
	reader EventReader

	mu       sync.Mutex
	gen      uint64
	inFlight map[pageKey]*pageRead
	last     map[int64]*pageRead // the newest finished read after each position
}

type pageKey struct {
	after int64
	limit int
}

// pageRead is one read of the log: those who joined it before it began
// share its answer.
type pageRead struct {
	after  int64
	limit  int
	gen    uint64 // the generation when the read began
	done   chan struct{}
	events []domain.RecordedEvent
	err    error
}

// maxRememberedReads bounds how many finished reads are kept for
// projections still to come (a few per projection).
const maxRememberedReads = 64

func newPages(reader EventReader) *pages {
	return &pages{reader: reader, inFlight: map[pageKey]*pageRead{}, last: map[int64]*pageRead{}}
}

// wake starts a new generation and returns it: the log has moved.
func (p *pages) wake() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	return p.gen
}

// current is the generation now.
func (p *pages) current() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen
}

// read returns up to limit events after the position, from a read that
// began at generation atLeast or later: a finished one that answers it, one
// in flight that began late enough, or a new one.
func (p *pages) read(ctx context.Context, after int64, limit int, atLeast uint64) ([]domain.RecordedEvent, error) {
	p.mu.Lock()
	if r, ok := p.last[after]; ok && r.gen >= atLeast && r.limit == limit {
		p.mu.Unlock()
		return r.events, nil
	}
	key := pageKey{after, limit}
	r, ok := p.inFlight[key]
	if !ok || r.gen < atLeast {
		r = &pageRead{after: after, limit: limit, gen: p.gen, done: make(chan struct{})}
		p.inFlight[key] = r
		p.mu.Unlock()
		r.events, r.err = p.reader.ReadAll(context.WithoutCancel(ctx), after, limit)
		p.finish(key, r)
	} else {
		p.mu.Unlock()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.events, r.err
}

func (p *pages) finish(key pageKey, r *pageRead) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight[key] == r {
		delete(p.inFlight, key)
	}
	if r.err == nil {
		if prev, ok := p.last[r.after]; !ok || prev.gen <= r.gen {
			if len(p.last) >= maxRememberedReads {
				p.last = map[int64]*pageRead{}
			}
			p.last[r.after] = r
		}
	}
	close(r.done)
}
