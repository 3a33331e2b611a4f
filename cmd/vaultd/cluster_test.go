package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/relay"
	"github.com/securevault/vault/siem"
)

// writer creates secrets through the API until stopped and records the
// log position of every write that was acknowledged (2xx).
type writer struct {
	base, token string
	acked       *atomic.Int64
	mu          *sync.Mutex
	positions   *[]int64
	failures    *atomic.Int64
}

func (w writer) run(ctx context.Context) {
	client := &http.Client{Timeout: 20 * time.Second}
	for ctx.Err() == nil {
		body, _ := json.Marshal(map[string]string{"name": "cluster/" + uuid.NewString(), "value": "value-" + uuid.NewString()})
		req, _ := http.NewRequest(http.MethodPost, w.base+"/api/v1/secrets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+w.token)
		resp, err := client.Do(req)
		if err != nil {
			w.failures.Add(1)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			w.failures.Add(1)
			continue
		}
		pos, err := strconv.ParseInt(resp.Header.Get("X-Vault-Position"), 10, 64)
		if err != nil {
			w.failures.Add(1)
			continue
		}
		w.mu.Lock()
		*w.positions = append(*w.positions, pos)
		w.mu.Unlock()
		w.acked.Add(1)
	}
}

// TestJetStreamClusterLosesNoAcknowledgedEvent: two vaultd replicas write
// to a three-node JetStream cluster with three replicas of the event
// stream while a SIEM forwarder copies it to a file. Under write load the
// stream's leader is killed and later brought back. Every acknowledged
// event (indeed every event of the log) is in the stream and in the SIEM
// output exactly once, in log order.
func TestJetStreamClusterLosesNoAcknowledgedEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := natstest.StartCluster(t, 3)
	d := newDeployment(t)
	d.env[config.EnvNATSURL] = cluster.URLs()
	d.env[config.EnvJetStreamReplicas] = "3"
	d.env[config.EnvCheckpointEvery] = "100" // so checkpoints are published during the test
	stream := d.env[config.EnvJetStreamStream]
	a, b := d.start(t), d.start(t)
	for _, inst := range []*instance{a, b} {
		inst.awaitReady(t, 30*time.Second)
	}

	nc := natstest.Connect(t, cluster.URLs())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, stream)
		return err == nil && s.CachedInfo().Config.Replicas == 3
	}, 30*time.Second, 50*time.Millisecond, "the relay creates the stream with three replicas")

	// The SIEM forwarder, as `vaultctl siem --output file:...` runs it,
	// connected to the stream leader (the node that will be killed), so it
	// loses its connection and the pull in flight.
	var leader int
	require.Eventually(t, func() bool { leader = cluster.StreamLeader(stream); return leader >= 0 }, 30*time.Second, 10*time.Millisecond)
	siemConn, err := nats.Connect(cluster.URL(leader)+","+cluster.URLs(), nats.DontRandomize(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.Name("siem"))
	require.NoError(t, err)
	t.Cleanup(siemConn.Close)
	siemFile := filepath.Join(t.TempDir(), "siem.jsonl")
	sink, err := siem.OpenFile(siemFile)
	require.NoError(t, err)
	formatter, err := siem.NewFormatter(siem.FormatECS, siem.FormatOptions{Hostname: "test"})
	require.NoError(t, err)
	siemLog := &syncBuffer{}
	fwd, err := siem.NewForwarder(siemConn, formatter, sink,
		slog.New(slog.NewJSONHandler(siemLog, &slog.HandlerOptions{Level: slog.LevelDebug})), siem.Config{
			Stream: stream, Consumer: "siem-cluster", BatchSize: 64, FetchWait: time.Second, AckWait: 5 * time.Second, MaxBackoff: 500 * time.Millisecond,
		})
	require.NoError(t, err)
	fwdCtx, stopFwd := context.WithCancel(ctx)
	fwdDone := make(chan error, 1)
	go func() { fwdDone <- fwd.Run(fwdCtx) }()
	t.Cleanup(func() {
		stopFwd()
		if err := <-fwdDone; err != nil {
			t.Errorf("SIEM forwarder: %v", err)
		}
		_ = sink.Close()
	})

	// Write load: two writers on each replica.
	var acked, failures atomic.Int64
	var mu sync.Mutex
	var positions []int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, inst := range []*instance{a, b, a, b} {
		w := writer{base: inst.baseURL, token: inst.adminClient(t).token, acked: &acked, mu: &mu, positions: &positions, failures: &failures}
		wg.Go(func() { w.run(loadCtx) })
	}
	defer func() { stopLoad(); wg.Wait() }()
	waitAcked := func(n int64, why string) {
		t.Helper()
		require.Eventually(t, func() bool { return acked.Load() >= n }, 30*time.Second, 10*time.Millisecond, why)
	}
	relayPublished := func() int64 {
		var p int64
		for _, inst := range []*instance{a, b} {
			if st, err := inst.app.relay.Status(ctx); err == nil && st.Leader {
				p = st.Published
			}
		}
		return p
	}

	waitAcked(40, "writes before the failure")
	require.Eventually(t, func() bool { leader = cluster.StreamLeader(stream); return leader >= 0 }, 30*time.Second, 10*time.Millisecond)
	cluster.Kill(leader)
	killedAt := relayPublished()
	t.Logf("killed node %d, the leader of %s, with %d writes acknowledged and %d events published", leader+1, stream, acked.Load(), killedAt)

	waitAcked(acked.Load()+40, "writes go on while a NATS node is down")
	require.Eventually(t, func() bool { return relayPublished() > killedAt+20 }, 30*time.Second, 20*time.Millisecond,
		"the relay keeps publishing to the two nodes left")
	cluster.Restart(t, leader)
	waitAcked(acked.Load()+40, "writes after the node is back")
	stopLoad()
	wg.Wait()

	head, err := a.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	t.Logf("%d writes acknowledged, %d refused or failed, log head %d", acked.Load(), failures.Load(), head)

	// The stream: every event of the log once, in order, on every replica
	// (the restarted node caught up).
	s, err := js.Stream(ctx, stream)
	require.NoError(t, err)
	var info *jetstream.StreamInfo
	caughtUp := func() bool {
		if info, err = s.Info(ctx); err != nil || info.State.LastSeq != uint64(head) || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	}
	if !assert.Eventually(t, caughtUp, 45*time.Second, 50*time.Millisecond, "the stream holds the log's %d events and all three replicas are current", head) {
		for _, inst := range []*instance{a, b} {
			st, err := inst.app.relay.Status(ctx)
			t.Logf("relay: %+v %v; check: %v", st, err, inst.app.relay.Check(ctx))
		}
		if info != nil {
			t.Logf("stream state: %+v cluster: %+v", info.State, info.Cluster)
			for _, r := range info.Cluster.Replicas {
				t.Logf("replica %+v", *r)
			}
		}
		t.Logf("cluster: %s", cluster.Describe())
		t.Logf("vaultd log tail: %s", tail(d.logSink.String(), 3000))
		t.FailNow()
	}
	inStream := map[int64]bool{}
	var last int64
	for seq := uint64(1); seq <= uint64(head); seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		pos, err := strconv.ParseInt(m.Header.Get(relay.HeaderPosition), 10, 64)
		require.NoError(t, err)
		require.Equal(t, last+1, pos, "stream sequence %d holds the next position, without a gap or a duplicate", seq)
		last = pos
		inStream[pos] = true
	}

	// The SIEM output: the same events, once each, in order.
	var inSIEM []int64
	require.Eventually(t, func() bool {
		inSIEM = siemPositions(t, siemFile)
		return len(inSIEM) > 0 && inSIEM[len(inSIEM)-1] >= head
	}, 45*time.Second, 50*time.Millisecond, "the SIEM output reaches position %d", head)
	for i, pos := range inSIEM {
		require.Equal(t, int64(i+1), pos, "SIEM record %d is position %d: strictly increasing, no duplicate, no gap", i+1, i+1)
	}
	t.Logf("SIEM forwarder: %d redeliveries of written events skipped, %d waits for an earlier event",
		strings.Count(siemLog.String(), "skips a redelivered event"), strings.Count(siemLog.String(), "waits for an earlier event"))

	cs, err := js.Stream(ctx, checkpoint.StreamName(stream))
	require.NoError(t, err, "checkpoints were published")
	require.Equal(t, 3, cs.CachedInfo().Config.Replicas, "the checkpoint stream has three replicas too")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, positions)
	for _, pos := range positions {
		require.True(t, inStream[pos], "acknowledged position %d is in the stream", pos)
		require.LessOrEqual(t, pos, inSIEM[len(inSIEM)-1], "acknowledged position %d reached the SIEM", pos)
	}
}

// siemPositions reads event.sequence (the log position) of every ECS line.
func siemPositions(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read only
	var out []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Event struct {
				Sequence int64 `json:"sequence"`
			} `json:"event"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), fmt.Sprintf("an ECS line: %s", sc.Text()))
		out = append(out, rec.Event.Sequence)
	}
	require.NoError(t, sc.Err())
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
