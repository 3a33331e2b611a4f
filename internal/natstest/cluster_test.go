package natstest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/natstest"
)

// TestClusterSurvivesLosingTheStreamLeader: a replicated stream keeps
// taking messages with one node down, and the node catches up when it
// comes back.
func TestClusterSurvivesLosingTheStreamLeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := natstest.StartCluster(t, 3)
	js, err := jetstream.New(natstest.Connect(t, c.URLs()))
	require.NoError(t, err)
	var s jetstream.Stream
	require.Eventually(t, func() bool {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			require.Eventually(t, func() bool {
				_, err := js.Publish(ctx, "r3.x", []byte(fmt.Sprint(i)), jetstream.WithMsgID(fmt.Sprint(i)))
				return err == nil
			}, 30*time.Second, 20*time.Millisecond)
		}
	}
	publish(0, 50)
	leader := c.StreamLeader("R3")
	require.GreaterOrEqual(t, leader, 0)
	c.Kill(leader)
	publish(50, 100)
	c.Restart(t, leader)
	publish(100, 150)
	require.Eventually(t, func() bool {
		info, err := s.Info(ctx)
		if err != nil || info.State.Msgs != 150 || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current {
				return false
			}
		}
		return true
	}, 45*time.Second, 50*time.Millisecond, "all replicas current: %s", c.Describe())
}
