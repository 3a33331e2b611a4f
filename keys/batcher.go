package keys

import (
	"context"
	"slices"
	"sync"
	"time"
)

// batcher coalesces concurrent calls into batches, as a group commit does:
// a call that finds nothing in flight is sent at once, alone (no timer, so
// an idle store adds no latency); calls that arrive while a batch is in
// flight queue and go together in the next one, up to maxBatch. Under load
// the batch grows to what arrived during one round trip, so N concurrent
// callers cost about one statement per round trip instead of N.
//
// A batch is sent by a flusher goroutine that lives only while calls are
// queued, not by the caller that started it: a caller whose context ends
// returns at once with its error, and no caller's context (or patience)
// ever cuts short a batch that carries other callers' rows. The flush runs
// under a context of its own, bounded by timeout.
//
// It is per process state only: several replicas each batch their own
// callers, and what a batch does in the database is plain SQL that is
// correct under concurrency with any other statement.
type batcher[In, Out any] struct {
	flush    func(ctx context.Context, batch []*pending[In, Out])
	maxBatch int
	timeout  time.Duration

	mu      sync.Mutex
	queue   []*pending[In, Out]
	running bool // a flusher goroutine owns the queue's head

	hooks batcherHooks
}

// batcherHooks let an internal test stop a batch before it is sent, so the
// calls behind it must queue, and wait exactly until they have. Both are nil
// outside tests; they are set before the first call.
type batcherHooks struct {
	queued   func()      // a call joined the queue
	flushing func(n int) // a batch of n live calls is about to be sent
}

// pending is one caller's call. flush sets out or err for every call of the
// batch it is given.
type pending[In, Out any] struct {
	ctx  context.Context // the caller's: for its log lines' values and to skip it once cancelled
	in   In
	out  Out
	err  error
	done chan struct{}
}

func newBatcher[In, Out any](maxBatch int, timeout time.Duration, flush func(context.Context, []*pending[In, Out])) *batcher[In, Out] {
	return &batcher[In, Out]{flush: flush, maxBatch: maxBatch, timeout: timeout}
}

// do queues in and waits for its answer or for ctx to end, whichever comes
// first. A call whose ctx ends before its batch is taken is not sent; one
// already sent may still take effect after do has returned ctx's error.
func (b *batcher[In, Out]) do(ctx context.Context, in In) (Out, error) {
	var zero Out
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	p := &pending[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.run()
	}
	if b.hooks.queued != nil {
		b.hooks.queued()
	}
	select {
	case <-p.done:
		return p.out, p.err
	case <-ctx.Done():
		select {
		case <-p.done: // answered meanwhile: the answer is worth more
			return p.out, p.err
		default:
			return zero, ctx.Err()
		}
	}
}

// run sends batches until the queue is empty, then ends.
func (b *batcher[In, Out]) run() {
	for {
		batch := b.take()
		if batch == nil {
			return
		}
		live := batch[:0]
		for _, p := range batch {
			if err := p.ctx.Err(); err != nil {
				p.err = err
				close(p.done)
				continue
			}
			live = append(live, p)
		}
		if len(live) == 0 {
			continue
		}
		if b.hooks.flushing != nil {
			b.hooks.flushing(len(live))
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		b.flush(ctx, live)
		cancel()
		for _, p := range live {
			close(p.done)
		}
	}
}

// take removes the next batch from the queue, or reports (nil) that the
// queue is empty and this flusher is done.
func (b *batcher[In, Out]) take() []*pending[In, Out] {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), b.maxBatch)
	if n == 0 {
		b.running = false
		b.queue = nil
		return nil
	}
	batch := b.queue[:n:n]
	// A fresh slice for the rest, so the queue's backing array does not
	// grow for as long as the store is busy.
	b.queue = slices.Clone(b.queue[n:])
	return batch
}
