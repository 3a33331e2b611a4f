package projections

import (
	"context"
	"fmt"
	"sync"

	"github.com/securevault/vault/domain"
)

// Rebuild replays the whole log into one projection while the service runs.
//
// It is one transaction: it takes the projection's lock (waiting for a page
// a runner may be applying, then keeping every runner in every process out),
// resets the read model, replays every event up to the head it saw at the
// start, and sets the checkpoint to that head. Until it commits, readers see
// the old read model; afterwards the runners carry on from the new
// checkpoint with whatever was appended meanwhile. progress, when not nil,
// is called with the events applied so far and the total.
//
// The log is read on other pool connections than the transaction's (one
// page is read ahead while the previous one is applied), so the pool needs
// at least two connections.
func (r *Runner) Rebuild(ctx context.Context, name string, progress func(done, total int64)) error {
	p, ok := r.byName[name]
	if !ok {
		return domain.Errorf(domain.ENOTFOUND, "no projection named %q", name)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	if err := r.prepare(ctx, p); err != nil {
		return err
	}
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return translate(fmt.Errorf("begin rebuild of %s: %w", name, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if err := r.queries.LockProjection(ctx, tx, name); err != nil {
		return translate(fmt.Errorf("lock projection %s: %w", name, err))
	}
	if _, err := r.queries.CheckpointForUpdate(ctx, tx, name); err != nil {
		return translate(fmt.Errorf("lock checkpoint of %s: %w", name, err))
	}
	head, err := r.reader.HeadPosition(ctx)
	if err != nil {
		return fmt.Errorf("read head of the log: %w", err)
	}
	if err := p.Reset(ctx, tx); err != nil {
		return fmt.Errorf("reset projection %s: %w", name, err)
	}

	pages, stop := r.readAhead(ctx, head)
	defer stop()
	var done int64
	progress(done, head)
	for pg := range pages {
		if pg.err != nil {
			return pg.err
		}
		if err := contiguous(done, pg.events); err != nil {
			return domain.WrapError(domain.EINTERNAL, "the log returned a page with a gap", err)
		}
		if err := p.Apply(ctx, tx, pg.events); err != nil {
			return fmt.Errorf("rebuild %s: apply positions %d..%d: %w", name, pg.events[0].Position, pg.events[len(pg.events)-1].Position, err)
		}
		done = pg.events[len(pg.events)-1].Position
		progress(done, head)
	}
	if done != head {
		// The reader stopped early without an error: never pretend a partial
		// replay is complete.
		return domain.Errorf(domain.EINTERNAL, "rebuild of %s read up to position %d of %d", name, done, head)
	}
	// The checkpoint moves from where it was to head, never back: it was
	// locked above before head was read, and a checkpoint only counts
	// committed events, so it is at or below head (advance refuses
	// otherwise). Waiters in every process keep the highest checkpoint
	// notified; until this commits they see the old checkpoint and the old
	// rows, afterwards the new ones, so a rebuild is invisible to them but
	// for the rows themselves.
	if err := r.advance(ctx, tx, name, head); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("commit rebuild of %s: %w", name, err))
	}
	r.logger.Info("projection rebuilt", "projection", name, "events", head)
	return nil
}

type page struct {
	events []domain.RecordedEvent
	err    error
}

// readAhead reads the log up to head in pages on its own goroutine, so
// reading page n+1 overlaps applying page n. stop cancels the reader and
// waits for it.
func (r *Runner) readAhead(ctx context.Context, head int64) (<-chan page, func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan page, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(out)
		send := func(pg page) bool {
			select {
			case out <- pg:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var after int64
		for after < head {
			events, err := r.reader.ReadAll(ctx, after, int(min(int64(r.opts.RebuildPageSize), head-after)))
			if err != nil {
				send(page{err: fmt.Errorf("read log after %d: %w", after, err)})
				return
			}
			for len(events) > 0 && events[len(events)-1].Position > head {
				events = events[:len(events)-1]
			}
			if len(events) == 0 {
				send(page{err: domain.Errorf(domain.EINTERNAL, "the log ended at position %d, before its head %d", after, head)})
				return
			}
			if !send(page{events: events}) {
				return
			}
			after = events[len(events)-1].Position
		}
	})
	return out, func() {
		cancel()
		wg.Wait()
	}
}
