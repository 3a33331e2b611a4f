// Package loggen fills an event log quickly for benchmarks, through the
// store's real append path, so every event carries a valid keyed link: the
// readers being measured check them.
package loggen

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/securevault/vault/domain"
)

// Appender is the store's multi-stream append.
type Appender interface {
	AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error)
}

// perStream is how many events each generated stream gets.
const perStream = 10

// Generate appends n events (rounded up to whole streams of ten) of type
// eventType over n/10 streams named <aggregate>-<number>, with data and
// metadata as given. Appends of 200 streams each run on a few goroutines,
// so the group-commit writer inserts thousands of rows per transaction.
func Generate(ctx context.Context, log Appender, n int64, aggregate, eventType string, data json.RawMessage, md domain.Metadata) error {
	const streamsPerAppend, workers = 200, 4
	streams := max(1, (n+perStream-1)/perStream)
	next := make(chan int64)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for first := range next {
				if err := appendChunk(ctx, log, first, min(first+streamsPerAppend, streams), aggregate, eventType, data, md); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for first := int64(0); first < streams; first += streamsPerAppend {
		select {
		case next <- first:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func appendChunk(ctx context.Context, log Appender, from, to int64, aggregate, eventType string, data json.RawMessage, md domain.Metadata) error {
	appends := make([]domain.StreamAppend, 0, to-from)
	for s := from; s < to; s++ {
		events := make([]domain.NewEvent, perStream)
		for i := range events {
			events[i] = domain.NewEvent{ID: uuid.NewString(), Type: eventType, SchemaVersion: 1, Data: data, Metadata: md}
		}
		appends = append(appends, domain.StreamAppend{StreamID: fmt.Sprintf("%s-%d", aggregate, s), Expected: domain.ExpectNoStream, Events: events})
	}
	if _, err := log.AppendStreams(ctx, appends...); err != nil {
		return fmt.Errorf("append streams %d..%d: %w", from, to-1, err)
	}
	return nil
}
