package checkpoint_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/pgtrace"
)

// TestSignerAnswersWakeUpsFromTheNotifiedHead: every append wakes the
// signer, but it learns from the notification's payload (the head) that no
// checkpoint is due, so the statements it sends until the one due at Every
// do not grow with the appends (the poll is an hour away).
func TestSignerAnswersWakeUpsFromTheNotifiedHead(t *testing.T) {
	t.Parallel()
	for _, every := range []int{10, 60} {
		t.Run(fmt.Sprintf("every %d", every), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			logger := slog.New(slog.DiscardHandler)
			cfg, err := pgxpool.ParseConfig(f.db.URL)
			require.NoError(t, err)
			counter := &pgtrace.Counter{}
			cfg.ConnConfig.Tracer = counter
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(pool.Close)

			runCtx, cancel := context.WithCancel(ctx)
			l := pgnotify.NewListener(f.db.URL, logger)
			lDone := make(chan struct{})
			go func() { defer close(lDone); _ = l.Run(runCtx) }()
			probe, cancelProbe := l.Subscribe(pgnotify.ChannelEvents) // woken once LISTEN took effect
			<-probe
			cancelProbe()
			s, err := checkpoint.NewSigner(pool, f.store, f.key, nil, l, logger,
				checkpoint.Config{Deployment: "test", Every: int64(every), PollInterval: time.Hour})
			require.NoError(t, err)
			sDone := make(chan struct{})
			go func() { defer close(sDone); _ = s.Run(runCtx) }()
			t.Cleanup(func() { cancel(); <-sDone; <-lDone })

			appendEvents(t, f.store, every, "hot")
			require.Eventually(t, func() bool {
				var last int64
				err := f.db.Pool.QueryRow(ctx, "SELECT COALESCE(max(position), 0) FROM chain_checkpoints").Scan(&last)
				return err == nil && last == int64(every)
			}, waitLimit, 10*time.Millisecond, "the checkpoint at %d is signed", every)
			// Two ticks (at the start and at Every), one read of the head to
			// start following it, and the next due position: a constant.
			require.LessOrEqual(t, counter.Count(), int64(16), "statements for %d appends", every)
		})
	}
}
