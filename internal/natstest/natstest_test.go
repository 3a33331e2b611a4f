package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/natstest"
)

// A restart keeps the port and the stored messages, so it plays an outage
// and recovery of the same NATS deployment.
func TestRestartKeepsPortAndData(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := natstest.Start(t)
	url := srv.URL()
	nc := natstest.Connect(t, url)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "t.one", []byte("1"))
	require.NoError(t, err)

	srv.Shutdown()
	require.Eventually(t, func() bool { return !nc.IsConnected() }, 10*time.Second, 10*time.Millisecond)
	downCtx, downCancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = js.Publish(downCtx, "t.two", []byte("2"), jetstream.WithRetryAttempts(0))
	downCancel()
	require.Error(t, err, "no publish is acknowledged while the server is down")

	srv.Restart(t)
	require.Equal(t, url, srv.URL())
	require.Eventually(t, nc.IsConnected, 10*time.Second, 10*time.Millisecond, "the client reconnects to the same URL")
	stream, err := js.Stream(ctx, "T")
	require.NoError(t, err)
	msg, err := stream.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "1", string(msg.Data), "messages stored before the outage survive it")
}
