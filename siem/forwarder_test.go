package siem_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/relay"
	"github.com/securevault/vault/siem"
)

// waitLimit bounds every wait; it guards against hangs and asserts nothing
// about speed.
const waitLimit = 90 * time.Second

// pipeline is the real producer side: event store, relay and JetStream.
type pipeline struct {
	store  *eventstore.Store
	nats   *natstest.Server
	stream string
	js     jetstream.JetStream
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	db := pgtest.New(t)
	logger := slog.New(slog.DiscardHandler)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)
	ns := natstest.Start(t)
	l := pgnotify.NewListener(db.URL, logger)
	suffix := randomHex(t)
	cfg := relay.Config{
		Stream:        "VAULT_EVENTS_" + strings.ToUpper(suffix),
		SubjectPrefix: "t" + suffix + ".vault.events",
		PollInterval:  200 * time.Millisecond,
		LeaderRetry:   200 * time.Millisecond,
	}
	r, err := relay.New(db.AppPool, store, natstest.Connect(t, ns.URL()), l, logger, nil, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = l.Run(ctx) })
	wg.Go(func() { _ = r.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	js, err := jetstream.New(natstest.Connect(t, ns.URL()))
	require.NoError(t, err)
	return &pipeline{store: store, nats: ns, stream: cfg.Stream, js: js}
}

// appendEvents appends n events, each with a sealed field that must never
// reach a SIEM, and waits until the relay has published them.
func (p *pipeline) appendEvents(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	var last int64
	for i := range n {
		typ := domain.EventLoginSucceeded
		if i%3 == 0 {
			typ = domain.EventLoginFailed
		}
		res, err := p.store.Append(ctx, domain.StreamID("user", uuid.NewString()), domain.ExpectNoStream, domain.NewEvent{
			ID: uuid.NewString(), Type: typ, SchemaVersion: 1,
			Data:     json.RawMessage(`{"i":` + strconv.Itoa(i) + `,"sealed_token":"NEVER-IN-SIEM"}`),
			Metadata: domain.Metadata{Actor: "u-1", ActorName: "alice", ClientIP: "10.1.2.3", UserAgent: "test"},
		})
		require.NoError(t, err)
		last = res.LastPosition
	}
	require.Eventually(t, func() bool {
		s, err := p.js.Stream(ctx, p.stream)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.LastSeq >= uint64(last)
	}, waitLimit, 20*time.Millisecond, "the relay publishes position %d", last)
}

type forwarder struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startForwarder runs a forwarder on its own NATS connection until stop.
func (p *pipeline) startForwarder(t *testing.T, format string, sink siem.Sink, logger *slog.Logger, cfg siem.Config) *forwarder {
	t.Helper()
	f, err := siem.NewFormatter(format, siem.FormatOptions{Hostname: "test"})
	require.NoError(t, err)
	cfg.Stream = p.stream
	cfg.FetchWait = 500 * time.Millisecond
	cfg.MaxBackoff = 400 * time.Millisecond
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fw, err := siem.NewForwarder(natstest.Connect(t, p.nats.URL()), f, sink, logger, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	run := &forwarder{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(run.done)
		require.NoError(t, fw.Run(ctx))
	}()
	t.Cleanup(run.stop)
	return run
}

func (f *forwarder) stop() {
	f.cancel()
	<-f.done
}

// syslogReceiver is a TCP syslog server that parses octet-counted frames
// (RFC 6587) and keeps the position of every record.
type syslogReceiver struct {
	t    *testing.T
	addr string

	mu        sync.Mutex
	ln        net.Listener
	conns     []net.Conn
	positions []int64
	records   []string
}

func startReceiver(t *testing.T, addr string) *syslogReceiver {
	r := &syslogReceiver{t: t, addr: addr}
	r.listen()
	t.Cleanup(r.close)
	return r
}

func (r *syslogReceiver) listen() {
	ln, err := net.Listen("tcp", r.addr)
	require.NoError(r.t, err)
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			go r.serve(c)
		}
	}()
}

var positionParam = regexp.MustCompile(` position="(\d+)"`)

func (r *syslogReceiver) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		lenText, err := br.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSuffix(lenText, " "))
		if err != nil {
			r.t.Errorf("bad octet count %q", lenText)
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		m := positionParam.FindSubmatch(buf)
		if m == nil {
			r.t.Errorf("record without a position: %q", buf)
			return
		}
		p, _ := strconv.ParseInt(string(m[1]), 10, 64)
		r.mu.Lock()
		r.positions = append(r.positions, p)
		r.records = append(r.records, string(buf))
		r.mu.Unlock()
	}
}

// close plays a receiver going down: the listener and every connection
// close, so the port refuses connections.
func (r *syslogReceiver) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.ln.Close()
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
}

func (r *syslogReceiver) received() ([]int64, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.positions...), append([]string(nil), r.records...)
}

func (r *syslogReceiver) waitFor(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, _ := r.received()
		return len(got) >= n
	}, waitLimit, 20*time.Millisecond, "the receiver gets %d records", n)
}

func sequence(from, to int64) []int64 {
	var s []int64
	for p := from; p <= to; p++ {
		s = append(s, p)
	}
	return s
}

func TestForwarderResumesAfterRestartWritingEachEventOnce(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	rcv := startReceiver(t, "127.0.0.1:0")
	sink := siem.NewTCPSink(rcv.addr, siem.FramingOctetCounting)
	t.Cleanup(func() { _ = sink.Close() })

	p.appendEvents(t, 30)
	first := p.startForwarder(t, siem.FormatSyslog, sink, nil, siem.Config{Consumer: "siem-resume", BatchSize: 7})
	rcv.waitFor(t, 30)
	first.stop()

	p.appendEvents(t, 20)
	second := p.startForwarder(t, siem.FormatSyslog, sink, nil, siem.Config{Consumer: "siem-resume", BatchSize: 7})
	rcv.waitFor(t, 50)
	second.stop()

	got, records := rcv.received()
	require.Equal(t, sequence(1, 50), got, "every event exactly once, in order, across the restart")
	for _, rec := range records {
		require.NotContains(t, rec, "NEVER-IN-SIEM")
		require.NotContains(t, rec, "sealed_")
	}
}

// logCounter counts log records whose message contains a phrase.
type logCounter struct {
	slog.Handler
	phrase string
	mu     *sync.Mutex
	n      *int
}

func (h logCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.phrase) {
		h.mu.Lock()
		*h.n++
		h.mu.Unlock()
	}
	return nil
}

func (h logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h logCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logCounter) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return *h.n
}

func TestForwarderBacksOffWhileTheReceiverIsDownAndLosesNothing(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	rcv := startReceiver(t, "127.0.0.1:0")
	sink := siem.NewTCPSink(rcv.addr, siem.FramingOctetCounting)
	t.Cleanup(func() { _ = sink.Close() })
	failures := logCounter{Handler: slog.DiscardHandler, phrase: "receiver unavailable", mu: &sync.Mutex{}, n: new(int)}

	p.startForwarder(t, siem.FormatSyslog, sink, slog.New(failures), siem.Config{Consumer: "siem-outage"})
	p.appendEvents(t, 10)
	rcv.waitFor(t, 10)

	rcv.close()
	p.appendEvents(t, 15)
	require.Eventually(t, func() bool { return failures.count() >= 3 }, waitLimit, 10*time.Millisecond,
		"the forwarder keeps retrying while the receiver is down")
	got, _ := rcv.received()
	require.Len(t, got, 10, "nothing is delivered while the receiver is down")

	rcv.listen() // the same address: the receiver comes back
	rcv.waitFor(t, 25)
	got, _ = rcv.received()
	require.Equal(t, sequence(1, 25), got, "everything held during the outage arrives, in order, once")
}

func TestForwarderSinceStartsAtATime(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	ctx := context.Background()
	p.appendEvents(t, 10)
	stream, err := p.js.Stream(ctx, p.stream)
	require.NoError(t, err)
	tenth, err := stream.GetMsg(ctx, 10)
	require.NoError(t, err)
	p.appendEvents(t, 5)

	rcv := startReceiver(t, "127.0.0.1:0")
	sink := siem.NewTCPSink(rcv.addr, siem.FramingOctetCounting)
	t.Cleanup(func() { _ = sink.Close() })
	fw := p.startForwarder(t, siem.FormatSyslog, sink, nil, siem.Config{Consumer: "siem-since", Since: tenth.Time.Add(time.Nanosecond)})
	rcv.waitFor(t, 5)
	fw.stop()
	got, _ := rcv.received()
	require.Equal(t, sequence(11, 15), got, "only events published after --since")
}

func TestForwarderUDP(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	sink := siem.NewUDPSink(pc.LocalAddr().String())
	t.Cleanup(func() { _ = sink.Close() })

	p.appendEvents(t, 5)
	p.startForwarder(t, siem.FormatECS, sink, nil, siem.Config{Consumer: "siem-udp"})
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(waitLimit)))
	buf := make([]byte, 65536)
	for want := int64(1); want <= 5; want++ {
		n, _, err := pc.ReadFrom(buf)
		require.NoError(t, err)
		var doc struct {
			Event struct {
				Sequence int64  `json:"sequence"`
				Outcome  string `json:"outcome"`
			} `json:"event"`
		}
		require.NoError(t, json.Unmarshal(buf[:n], &doc), "one ECS document per datagram")
		require.Equal(t, want, doc.Event.Sequence)
		require.NotContains(t, string(buf[:n]), "sealed_")
	}
}

func TestFileSinkAppendsLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "siem.log")
	require.NoError(t, os.WriteFile(path, []byte("kept\n"), 0o600))
	sink, err := siem.OpenSink("file:"+path, siem.FormatCEF, nil)
	require.NoError(t, err)
	require.NoError(t, sink.Write(context.Background(), [][]byte{[]byte("one"), []byte("two")}))
	require.NoError(t, sink.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "kept\none\ntwo\n", string(b))
}

func TestOpenSinkRejectsUnknownOutputs(t *testing.T) {
	t.Parallel()
	for _, out := range []string{"file:", "http://x:1", "tcp://nohost", "nonsense"} {
		t.Run(out, func(t *testing.T) {
			_, err := siem.OpenSink(out, siem.FormatECS, io.Discard)
			require.Error(t, err)
		})
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
