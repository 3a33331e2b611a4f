package fold

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// HeadReader tells the position of the last committed event;
// *eventstore.Store satisfies it.
type HeadReader interface {
	HeadPosition(ctx context.Context) (int64, error)
}

// ReadModelWaiter blocks until named read models have applied a position;
// *projections.Waiter satisfies it.
type ReadModelWaiter interface {
	WaitFor(ctx context.Context, position int64, timeout time.Duration, names ...string) error
}

// AwaitReadModel waits, bounded by timeout, until readModel has applied
// ReadPosition(ctx, log, decidedAt, minPosition), and returns that
// position: what is read from the read model next includes every event up
// to it. Past the bound the error is EUNAVAILABLE, so the client retries
// rather than trust a stale answer. Without a waiter nothing waits, only
// the minimum's sign is checked, and the position is 0 (nothing is known
// of what the read model applied).
func AwaitReadModel(ctx context.Context, log HeadReader, waiter ReadModelWaiter, decidedAt, minPosition int64, timeout time.Duration, readModel string) (int64, error) {
	if waiter == nil {
		if minPosition < 0 {
			return 0, errNegativeMinimum()
		}
		return 0, nil
	}
	position, err := ReadPosition(ctx, log, decidedAt, minPosition)
	if err != nil {
		return 0, err
	}
	if err := waiter.WaitFor(ctx, position, timeout, readModel); err != nil {
		return 0, err
	}
	return position, nil
}

func errNegativeMinimum() error {
	return domain.Errorf(domain.EINVALID, "the minimum position must be a non-negative integer")
}

// ReadPosition is the log position a read of a read model waits for, so
// that a request sees every write that committed before it began,
// whichever replica wrote it. It is the one rule of read-your-writes, on
// the read side: a write answers as soon as its events are in the log, and
// whoever reads next waits (commands and queries alike).
//
// decidedAt is the position the caller's principal was decided at
// (domain.Principal.DecidedAt, at least the head of the log when the
// request arrived, so a read already caught up costs no statement); 0 means
// not known, and the head is read now. minPosition is a position a client
// was given by a write (X-Vault-Min-Position, 0: none): one beyond the head
// is refused, because every position a write reports is at or below it.
func ReadPosition(ctx context.Context, log HeadReader, decidedAt, minPosition int64) (int64, error) {
	if minPosition < 0 {
		return 0, errNegativeMinimum()
	}
	if decidedAt > 0 && minPosition <= decidedAt {
		return decidedAt, nil
	}
	head, err := log.HeadPosition(ctx)
	if err != nil {
		return 0, err
	}
	if minPosition > head {
		return 0, domain.Errorf(domain.EINVALID, "minimum position %d is beyond the head of the log (%d); send a position a write reported", minPosition, head)
	}
	if decidedAt == 0 {
		return head, nil
	}
	return max(decidedAt, minPosition), nil
}
