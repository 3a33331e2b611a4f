package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgtrace"
	vaultsql "github.com/securevault/vault/sql"
)

// tracedStore is a Store over a pool that counts its statements, as
// vault_app, with the pool's one connection already open (opening one
// sends SET ROLE, which would be counted too).
type tracedStore struct {
	*Store
	keyring *Keyring
	counter *pgtrace.Counter
	log     *syncBuffer
}

func newTracedStore(t testing.TB) *tracedStore {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	root, err := envelope.NewDataKey()
	require.NoError(t, err)
	kr, err := NewKeyring(ctx, db.Pool, root, slog.New(slog.NewTextHandler(io.Discard, nil)), KeyringOptions{RefreshInterval: time.Hour})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	vaultsql.UseAppRole(cfg)
	counter := &pgtrace.Counter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, "SELECT 1")
	require.NoError(t, err)
	log := &syncBuffer{}
	return &tracedStore{
		Store:   NewStore(pool, kr, slog.New(slog.NewJSONHandler(log, nil))),
		keyring: kr, counter: counter, log: log,
	}
}

// statements runs f and returns how many statements it sent.
func (ts *tracedStore) statements(f func()) int64 {
	before := ts.counter.Count()
	f()
	return ts.counter.Count() - before
}

func (ts *tracedStore) wrap(t testing.TB, ref DataKeyRef) WrappedKey {
	t.Helper()
	_, w, err := ts.keyring.GenerateDataKey(context.Background(), EncryptionContext(ref.OwnerID, ref.Version))
	require.NoError(t, err)
	return w
}

func putCalls(reqs ...putRequest) []*putCall {
	out := make([]*putCall, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, &putCall{ctx: context.Background(), in: r, done: make(chan struct{})})
	}
	return out
}

func deleteCalls(refs ...DataKeyRef) []*deleteCall {
	out := make([]*deleteCall, 0, len(refs))
	for _, r := range refs {
		out = append(out, &deleteCall{ctx: context.Background(), in: deleteRequest{ref: r, flush: true}, done: make(chan struct{})})
	}
	return out
}

func ref(owner string, version int64) DataKeyRef { return DataKeyRef{OwnerID: owner, Version: version} }

// A batch of 50 keys is one INSERT, and destroying them one DELETE.
func TestFlushIsOneStatementPerBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTracedStore(t)
	var reqs []putRequest
	var refs []DataKeyRef
	for i := range 50 {
		r := ref(fmt.Sprintf("secret-%02d", i), int64(i%3+1))
		reqs = append(reqs, putRequest{ref: r, wrapped: ts.wrap(t, r)})
		refs = append(refs, r)
	}
	puts := putCalls(reqs...)
	require.Equal(t, int64(1), ts.statements(func() { ts.flushPuts(ctx, puts) }))
	for i, c := range puts {
		require.NoError(t, c.err)
		got, err := ts.Get(ctx, reqs[i].ref.OwnerID, reqs[i].ref.Version)
		require.NoError(t, err)
		require.Equal(t, reqs[i].wrapped, got)
	}

	// Reading them back: 50 refs, one asked twice and one never stored,
	// in one SELECT, each caller with its own answer.
	var gets []*getCall
	for _, r := range append(append(refs, refs[7]), ref("never-stored", 1)) {
		gets = append(gets, &getCall{ctx: ctx, in: r, done: make(chan struct{})})
	}
	require.Equal(t, int64(1), ts.statements(func() { ts.flushGets(ctx, gets) }))
	for i, c := range gets[:50] {
		require.NoError(t, c.err)
		require.Equal(t, reqs[i].wrapped, c.out)
	}
	require.NoError(t, gets[50].err)
	require.Equal(t, reqs[7].wrapped, gets[50].out)
	gets[50].out.Ciphertext[0] ^= 0xff // a caller zeroing its copy touches no other's
	require.Equal(t, reqs[7].wrapped, gets[7].out)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(gets[51].err))
	require.ErrorIs(t, gets[51].err, ErrDataKeyNotFound)

	dels := deleteCalls(append(refs, ref("never-stored", 1))...)
	require.Equal(t, int64(1), ts.statements(func() { ts.flushDeletes(ctx, dels) }))
	for _, c := range dels[:50] {
		require.NoError(t, c.err)
		require.True(t, c.out, "%v existed", c.in)
	}
	require.NoError(t, dels[50].err)
	require.False(t, dels[50].out)
	n, err := ts.Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	// One log line per destroyed key, naming it by owner and version only
	// (in whatever order the statement returned them).
	logged := map[DataKeyRef]bool{}
	for _, l := range bytes.Split(bytes.TrimSpace(ts.log.Bytes()), []byte("\n")) {
		var m struct {
			Level   string `json:"level"`
			Msg     string `json:"msg"`
			OwnerID string `json:"owner_id"`
			Version int64  `json:"version"`
		}
		require.NoError(t, json.Unmarshal(l, &m))
		var all map[string]any
		require.NoError(t, json.Unmarshal(l, &all))
		require.Len(t, all, 5, "time, level, msg, owner_id, version and nothing else: %s", l)
		require.Equal(t, "INFO", m.Level)
		require.Equal(t, "data key destroyed", m.Msg)
		logged[ref(m.OwnerID, m.Version)] = true
	}
	require.Len(t, logged, 50)
	for _, r := range refs {
		require.True(t, logged[r], "%v logged", r)
	}
}

// Each caller of a batch gets the answer its Put would have had alone, and
// refs repeated in one batch behave as if sent one after the other.
func TestFlushPutsAnswersEachCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTracedStore(t)
	taken, again := ref("taken", 1), ref("again", 1)
	takenKey, againKey := ts.wrap(t, taken), ts.wrap(t, again)
	require.NoError(t, ts.Put(ctx, taken.OwnerID, taken.Version, takenKey))
	require.NoError(t, ts.Put(ctx, again.OwnerID, again.Version, againKey))

	twice, clash := ref("twice", 1), ref("clash", 1)
	twiceKey, clashFirst, clashSecond := ts.wrap(t, twice), ts.wrap(t, clash), ts.wrap(t, clash)
	fresh1, fresh2 := ref("fresh", 1), ref("fresh", 2)
	tests := []struct {
		name     string
		req      putRequest
		wantCode string
	}{
		{"fresh key", putRequest{fresh1, ts.wrap(t, fresh1)}, ""},
		{"another key already there", putRequest{taken, ts.wrap(t, taken)}, domain.ECONFLICT},
		{"the same key already there", putRequest{again, againKey}, ""},
		{"same key twice in the batch: first", putRequest{twice, twiceKey}, ""},
		{"same key twice in the batch: second", putRequest{twice, twiceKey}, ""},
		{"two keys for one ref in the batch: first", putRequest{clash, clashFirst}, ""},
		{"two keys for one ref in the batch: second", putRequest{clash, clashSecond}, domain.ECONFLICT},
		{"another fresh key", putRequest{fresh2, ts.wrap(t, fresh2)}, ""},
	}
	reqs := make([]putRequest, 0, len(tests))
	for _, tc := range tests {
		reqs = append(reqs, tc.req)
	}
	calls := putCalls(reqs...)
	// The insert, and one read of the rows that were there already.
	require.Equal(t, int64(2), ts.statements(func() { ts.flushPuts(ctx, calls) }))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantCode == "" {
				require.NoError(t, calls[i].err)
				return
			}
			require.Equal(t, tc.wantCode, domain.ErrorCode(calls[i].err), "%v", calls[i].err)
		})
	}
	for r, want := range map[DataKeyRef]WrappedKey{taken: takenKey, again: againKey, twice: twiceKey, clash: clashFirst} {
		got, err := ts.Get(ctx, r.OwnerID, r.Version)
		require.NoError(t, err)
		require.Equal(t, want, got, "%v keeps the key stored first", r)
	}
}

// A row that fails the whole statement (its master key is gone) fails only
// its own caller: the batch is retried row by row.
func TestFlushPutsFallsBackOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTracedStore(t)
	good1, bad, good2 := ref("good", 1), ref("bad", 1), ref("good", 2)
	badKey := ts.wrap(t, bad)
	badKey.KeyID = "mk-retired"
	calls := putCalls(
		putRequest{good1, ts.wrap(t, good1)},
		putRequest{bad, badKey},
		putRequest{good2, ts.wrap(t, good2)},
	)
	require.Equal(t, int64(4), ts.statements(func() { ts.flushPuts(ctx, calls) }), "the batch, then each row alone")
	require.NoError(t, calls[0].err)
	require.NoError(t, calls[2].err)
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(calls[1].err))
	require.ErrorContains(t, calls[1].err, "master key was retired; retry")
	for _, c := range calls {
		got, err := ts.Get(ctx, c.in.ref.OwnerID, c.in.ref.Version)
		if c.err != nil {
			require.ErrorIs(t, err, ErrDataKeyNotFound)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.in.wrapped, got)
	}
}

// held stops the first batch of a batcher before it is sent, so calls made
// meanwhile must queue behind it, and counts them as they do.
type held struct {
	started chan struct{}
	release chan struct{}
	queued  chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func hold[In, Out any](b *batcher[In, Out]) *held {
	h := &held{started: make(chan struct{}), release: make(chan struct{}), queued: make(chan struct{}, 1024)}
	b.hooks = batcherHooks{
		queued: func() { h.queued <- struct{}{} },
		flushing: func(n int) {
			h.mu.Lock()
			h.sizes = append(h.sizes, n)
			first := len(h.sizes) == 1
			h.mu.Unlock()
			if first {
				close(h.started)
				<-h.release
			}
		},
	}
	return h
}

// waitQueued waits until n calls have joined the queue.
func (h *held) waitQueued(n int) {
	for range n {
		<-h.queued
	}
}

func (h *held) batchSizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

// While one statement is in flight, the next callers queue and all go in
// the next statement: 1 + 50 Puts are two statements, and so are 1 + 50

// leaderThenFollowers runs call(0) until the batcher holds its batch, then
// calls 1..followers, which must queue behind it, then releases the batch
// and waits for every call.
func leaderThenFollowers(h *held, followers int, call func(i int)) {
	var wg sync.WaitGroup
	wg.Go(func() { call(0) })
	<-h.started
	for i := 1; i <= followers; i++ {
		wg.Go(func() { call(i) })
	}
	h.waitQueued(1 + followers)
	close(h.release)
	wg.Wait()
}

// Deletes. Without batching they would be 51.
func TestConcurrentCallsShareOneStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTracedStore(t)
	const followers = 50

	t.Run("put", func(t *testing.T) {
		h := hold(ts.puts)
		keys := make([]WrappedKey, followers+1)
		for i := range keys {
			keys[i] = ts.wrap(t, ref("owner", int64(i+1)))
		}
		errs := make([]error, followers+1)
		n := ts.statements(func() {
			leaderThenFollowers(h, followers, func(i int) {
				errs[i] = ts.Put(ctx, "owner", int64(i+1), keys[i])
			})
		})
		require.Equal(t, int64(2), n)
		require.Equal(t, []int{1, followers}, h.batchSizes())
		for i, err := range errs {
			require.NoError(t, err)
			got, err := ts.Get(ctx, "owner", int64(i+1))
			require.NoError(t, err)
			require.Equal(t, keys[i], got)
		}
	})

	t.Run("delete", func(t *testing.T) {
		h := hold(ts.deletes)
		existed := make([]bool, followers+1)
		errs := make([]error, followers+1)
		// Versions 1..51 are stored; followers 26..50 repeat 1..25.
		version := func(i int) int64 {
			if i > 25 {
				return int64(i - 25)
			}
			return int64(i + 1)
		}
		n := ts.statements(func() {
			leaderThenFollowers(h, followers, func(i int) {
				existed[i], errs[i] = ts.Delete(ctx, "owner", version(i))
			})
		})
		require.Equal(t, int64(2), n)
		require.Equal(t, []int{1, followers}, h.batchSizes())
		// Version 1 went in the first statement, so its repeat finds
		// nothing; of two callers of one version in the second statement
		// (in whichever order they queued), exactly one finds its key.
		require.True(t, existed[0])
		require.False(t, existed[26])
		found := map[int64]int{}
		for i, err := range errs {
			require.NoError(t, err)
			if existed[i] {
				found[version(i)]++
			}
		}
		require.Len(t, found, 26)
		for v := int64(1); v <= 26; v++ {
			require.Equal(t, 1, found[v], "version %d", v)
		}
		left, err := ts.Count(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(followers+1-26), left, "versions 27..51 were not deleted")
	})
}

// A caller that gives up gets its context's error at once, whether its row
// is in flight or still queued; a queued one is never sent, and the other
// callers are answered as usual.
func TestCancelledCallers(t *testing.T) {
	t.Parallel()
	ts := newTracedStore(t)
	h := hold(ts.puts)
	inFlight, queued, other := ref("in-flight", 1), ref("queued", 1), ref("other", 1)

	put := func(ctx context.Context, r DataKeyRef) chan error {
		w := ts.wrap(t, r)
		out := make(chan error, 1)
		go func() { out <- ts.Put(ctx, r.OwnerID, r.Version, w) }()
		return out
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	first := put(ctx1, inFlight)
	<-h.started
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	second := put(ctx2, queued)
	third := put(context.Background(), other)
	h.waitQueued(3)

	// Both return while the first statement is still held back.
	cancel1()
	cancel2()
	for _, ch := range []chan error{first, second} {
		err := <-ch
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	}
	close(h.release)
	require.NoError(t, <-third)
	require.Equal(t, []int{1, 1}, h.batchSizes(), "the cancelled queued call was left out of the second batch")

	ctx := context.Background()
	_, err := ts.Get(ctx, queued.OwnerID, queued.Version)
	require.ErrorIs(t, err, ErrDataKeyNotFound, "a call cancelled before it was sent is not sent")
	_, err = ts.Get(ctx, other.OwnerID, other.Version)
	require.NoError(t, err)
	// The in-flight row may be stored (an orphan key is harmless); either
	// way nothing else failed.
	if _, err := ts.Get(ctx, inFlight.OwnerID, inFlight.Version); err != nil && !errors.Is(err, ErrDataKeyNotFound) {
		t.Fatal(err)
	}
}

// BenchmarkPutConcurrent compares 32 concurrent Puts batched with the same
// Puts sent one statement each (as before the batcher), in the same run.
// statements/op is the figure that matters; it does not depend on the
// machine's noise.
func BenchmarkPutConcurrent(b *testing.B) {
	ts := newTracedStore(b)
	w := ts.wrap(b, ref("bench", 1))
	// Every Put of every round of every case stores a new ref: b.Run calls
	// a case's function once per b.N it tries.
	var version atomic.Int64
	cases := []struct {
		name string
		put  func(ctx context.Context, r DataKeyRef) error
	}{
		{"batched", func(ctx context.Context, r DataKeyRef) error {
			return ts.Put(ctx, r.OwnerID, r.Version, w)
		}},
		{"one-statement-per-call", func(ctx context.Context, r DataKeyRef) error {
			c := putCalls(putRequest{ref: r, wrapped: w})
			ts.flushPuts(ctx, c)
			return c[0].err
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(16) // 32 goroutines on 2 cores, like vaultbench -clients 32
			before := ts.counter.Count()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if err := bc.put(ctx, ref("bench-"+bc.name, version.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(ts.counter.Count()-before)/float64(b.N), "statements/op")
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the flusher's and the test's
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}
