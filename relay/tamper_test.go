package relay_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/integrity"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/tamper"
	"github.com/securevault/vault/relay"
)

// TestRelayTreatsAStreamAheadOfTheLogAsTampering: after the newest events
// were deleted and the head moved back, the stream still holds them. A
// relay that (re)starts must call that tampering, latch the alarm and never
// publish again over those positions, whether the log stays short or new
// events have been appended there since (by a replica that never knew).
func TestRelayTreatsAStreamAheadOfTheLogAsTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		running      bool  // the relay keeps running through the attack instead of restarting
		reappend     int   // events appended on the shortened log before the relay restarts
		wantPosition int64 // the first position the alarm names; 0: any of the removed ones
	}{
		{"the log ends before the stream", false, 0, 7},
		{"other events now sit at the stream's positions", false, 4, 10},
		// The relay may notice while the events are being re-appended.
		{"a running relay whose log was cut and appended to", true, 6, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t)
			nc := natstest.Connect(t, e.nats.URL())
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			latch := integrity.NewLatch(discard(), nil)
			cfg := e.cfg
			cfg.Alarm = latch
			var first *running
			if tc.running {
				first = e.start(t, nc, cfg)
			} else {
				first = e.start(t, nc, e.cfg)
			}
			e.appendEvents(t, 10)
			e.waitCaughtUp(t, js)
			if !tc.running {
				first.stop(t)
			}

			tamper.TruncateTail(t, e.db.Superuser(t), 6)
			// A replica that restarted after the attack has no memory of
			// the old head and appends where the head now points.
			restarted := eventstore.New(e.db.AppPool, e.db.ChainKeys(t), discard(), eventstore.Options{})
			t.Cleanup(restarted.Close)
			for range tc.reappend {
				_, err := restarted.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, e.event(t, "ThingCreated", 0))
				require.NoError(t, err)
			}

			if !tc.running {
				e.start(t, nc, cfg)
			}
			require.Eventually(t, latch.Tripped, waitLimit, 20*time.Millisecond, "the relay reports the stream ahead of the log")
			v, _ := latch.Violation()
			if tc.wantPosition == 0 {
				require.True(t, v.Position >= 7 && v.Position <= 10, "position %d: %s", v.Position, v.Reason)
			} else {
				require.Equal(t, tc.wantPosition, v.Position, v.Reason)
			}

			// Nothing is published over the removed positions.
			_, err = restarted.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, e.event(t, "ThingCreated", 0))
			require.NoError(t, err)
			s, err := js.Stream(ctx, e.cfg.Stream)
			require.NoError(t, err)
			info, err := s.Info(ctx)
			require.NoError(t, err)
			require.Equal(t, uint64(10), info.State.Msgs)
			msg, err := s.GetMsg(ctx, 7)
			require.NoError(t, err)
			require.Equal(t, "7", msg.Header.Get(relay.HeaderPosition))
			_, d, err := relay.CheckStream(ctx, nc, e.cfg.Stream, restarted)
			require.NoError(t, err)
			require.NotNil(t, d, "the operator's check agrees")
			require.Contains(t, d.Reason, strconv.FormatInt(10, 10))
		})
	}
}
