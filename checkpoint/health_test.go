package checkpoint_test

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/natstest"
)

// TestCheckNamesASignerThatCannotPublish: with the checkpoint stream's NATS
// gone, signed checkpoints cannot be published; after UnhealthyAfter ticks
// in a row Check names the step, and once NATS is back the backlog is
// published and Check passes.
func TestCheckNamesASignerThatCannotPublish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	ns := natstest.Start(t)
	suffix := strings.ToUpper(hex.EncodeToString([]byte(uuid.NewString()[:4])))
	nc := natstest.Connect(t, ns.URL())
	jp, err := checkpoint.NewJetStreamPublisher(nc, "EV_"+suffix, "t"+strings.ToLower(suffix)+".vault.events")
	require.NoError(t, err)
	s, err := checkpoint.NewSigner(f.db.AppPool, f.store, f.key, jp, nil, slog.New(slog.DiscardHandler),
		checkpoint.Config{Deployment: "test", Every: 5, PollInterval: 20 * time.Millisecond, UnhealthyAfter: 2})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	appendEvents(t, f.store, 5, "a")
	require.Eventually(t, func() bool { return published(t, f) == 1 && s.Check(ctx) == nil }, waitLimit, 20*time.Millisecond,
		"the checkpoint at 5 is published")

	ns.Shutdown()
	appendEvents(t, f.store, 5, "b")
	var checkErr error
	require.Eventually(t, func() bool {
		checkErr = s.Check(ctx)
		return checkErr != nil
	}, waitLimit, 20*time.Millisecond, "the signer reports that it cannot publish")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(checkErr))
	require.Contains(t, domain.ErrorMessage(checkErr), "the checkpoint signer cannot publish a checkpoint since")
	require.Positive(t, unpublished(t, f), "the checkpoint at 10 is signed and waits for NATS")

	ns.Restart(t)
	require.Eventually(t, func() bool { return unpublished(t, f) == 0 && published(t, f) == 2 && s.Check(ctx) == nil }, waitLimit, 20*time.Millisecond,
		"the backlog is published and the check passes again")
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(ctx, checkpoint.StreamName("EV_"+suffix))
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs, "the checkpoints at 5 and 10, each once")
}

func unpublished(t *testing.T, f *fixture) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE published_at IS NULL) FROM chain_checkpoints").Scan(&n))
	return n
}

func published(t *testing.T, f *fixture) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE published_at IS NOT NULL) FROM chain_checkpoints").Scan(&n))
	return n
}
