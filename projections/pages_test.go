package projections

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// fakeLog is a log of n events that counts its reads.
type fakeLog struct {
	head  int64
	reads int
}

func (f *fakeLog) ReadAll(_ context.Context, after int64, limit int) ([]domain.RecordedEvent, error) {
	f.reads++
	var out []domain.RecordedEvent
	for p := after + 1; p <= f.head && len(out) < limit; p++ {
		out = append(out, domain.RecordedEvent{Position: p})
	}
	return out, nil
}

func (f *fakeLog) HeadPosition(context.Context) (int64, error) { return f.head, nil }

// TestPagesShareReadsWithinAGeneration: projections answering the same
// wake-up share one read of the page; after the next wake-up, a read that
// began before it is never used (it may predate what woke them).
func TestPagesShareReadsWithinAGeneration(t *testing.T) {
	ctx := context.Background()
	log := &fakeLog{head: 3}
	p := newPages(log)
	g := p.wake()

	for range 4 { // four projections at the same checkpoint
		events, err := p.read(ctx, 0, 10, g)
		require.NoError(t, err)
		require.Len(t, events, 3)
	}
	require.Equal(t, 1, log.reads, "one read for the generation")

	log.head = 5 // events commit, then their notification
	g = p.wake()
	events, err := p.read(ctx, 0, 10, g)
	require.NoError(t, err)
	require.Len(t, events, 5, "the older read is not used for the new generation")
	require.Equal(t, 2, log.reads)

	events, err = p.read(ctx, 0, 2, g)
	require.NoError(t, err)
	require.Len(t, events, 2, "a read with another page size is its own")
	require.Equal(t, 3, log.reads)
}
