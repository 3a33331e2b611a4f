package relay_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/relay"
)

// headCounting is the store, counting the reads of the head.
type headCounting struct {
	*eventstore.Store
	heads atomic.Int64
}

func (h *headCounting) HeadPosition(ctx context.Context) (int64, error) {
	h.heads.Add(1)
	return h.Store.HeadPosition(ctx)
}

// TestRelayLagNeedsNoReadOfTheHeadPerBatch: appends one at a time make a
// batch each, yet the relay reads the head a constant number of times (its
// sync and the first lag observation): the lag metric takes the head from
// the appends' notifications. The metric still ends at zero.
func TestRelayLagNeedsNoReadOfTheHeadPerBatch(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5, 60} {
		t.Run(fmt.Sprintf("%d appends", n), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			counting := &headCounting{Store: e.store}
			nc := natstest.Connect(t, e.nats.URL())
			cfg := e.cfg
			cfg.PollInterval = time.Hour // only notifications wake it
			reg := prometheus.NewRegistry()
			r, err := relay.New(e.db.AppPool, counting, nc, e.notify, discard(), reg, cfg)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
			js, err := jetstream.New(nc)
			require.NoError(t, err)

			for range n {
				e.appendEvents(t, 1)
			}
			e.waitCaughtUp(t, js)
			require.Eventually(t, func() bool { return metric(t, reg, "vault_relay_lag_events") == 0 },
				waitLimit, 10*time.Millisecond, "the lag metric follows the notified head")
			require.Equal(t, float64(n), metric(t, reg, "vault_relay_published_total"))
			require.LessOrEqual(t, counting.heads.Load(), int64(4), "reads of the head for %d appends", n)
		})
	}
}
