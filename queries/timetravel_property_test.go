package queries_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/queries"
)

// countingLog is the event store with a count of the events its reads
// return, so a test can tell how much of a stream a query read.
type countingLog struct {
	*eventstore.Store
	read atomic.Int64
}

func (l *countingLog) count(events []domain.RecordedEvent, err error) ([]domain.RecordedEvent, error) {
	l.read.Add(int64(len(events)))
	return events, err
}

func (l *countingLog) ReadStream(ctx context.Context, streamID string, afterVersion int64, limit int) ([]domain.RecordedEvent, error) {
	return l.count(l.Store.ReadStream(ctx, streamID, afterVersion, limit))
}

func (l *countingLog) ReadStreamPositions(ctx context.Context, streamID string, afterPosition, maxPosition int64, limit int) ([]domain.RecordedEvent, error) {
	return l.count(l.Store.ReadStreamPositions(ctx, streamID, afterPosition, maxPosition, limit))
}

func (l *countingLog) ReadStreamVersions(ctx context.Context, streamID string, versions []int64) ([]domain.RecordedEvent, error) {
	return l.count(l.Store.ReadStreamVersions(ctx, streamID, versions))
}

// historyEnv is one log with the read side over it twice: with the store's
// snapshots, and folding every stream from its start.
type historyEnv struct {
	db        *pgtest.Database
	store     *eventstore.Store
	log       *countingLog
	snapshots vaulttest.Reads
	plain     vaulttest.Reads
}

func newHistoryEnv(t *testing.T) *historyEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	e := &historyEnv{db: db, store: store, log: &countingLog{Store: store}}
	e.snapshots = vaulttest.NewReads(t, db, e.log, nil, nil, queries.Options{Snapshots: store})
	e.plain = vaulttest.NewReads(t, db, e.log, nil, nil, queries.Options{})
	return e
}

// secretHistory writes a random life of one secret straight to the log:
// rotations under retention, manual destroys of any version, deletes,
// restores, metadata updates and reveals, by several actors, interleaved
// with other streams' events, several changes sometimes in one append.
func secretHistory(t *testing.T, store *eventstore.Store, rng *rand.Rand, keep, steps int, batch func() int) string {
	t.Helper()
	ctx := context.Background()
	actors := []domain.Metadata{
		{Actor: domain.NewID(), ActorName: "alice", ClientIP: "192.0.2.1", UserAgent: "ua-a", RequestID: "r-a"},
		{Actor: domain.NewID(), ActorName: "bob", ClientIP: "192.0.2.2", UserAgent: "ua-b"},
		{Actor: domain.SystemActor},
	}
	tags := []string{"db", "env:prod", "team:x", "pci"}
	sec, err := domain.NewSecret(domain.NewID(), "prop/"+domain.NewID(), "first", tags[:1])
	require.NoError(t, err)
	_, err = sec.AddVersion(1, []byte("sealed"), "local", false, keep)
	require.NoError(t, err)
	_, err = store.AppendStreams(ctx, sec.StreamAppend(actors[0]))
	require.NoError(t, err)
	sec.Committed()
	for step := 0; step < steps; {
		md := actors[rng.IntN(len(actors))]
		var extra []domain.StreamAppend
		var reveals []domain.NewEvent
		for range batch() {
			step++
			switch r := rng.IntN(20); {
			case r < 8:
				if !sec.Deleted() {
					_, err = sec.AddVersion(sec.NextVersion(), []byte("sealed"), "local", rng.IntN(2) == 0, keep)
				}
			case r < 10:
				err = sec.DestroyVersion(1 + rng.Int64N(sec.CurrentVersion()))
			case r < 11:
				err = sec.Delete()
			case r < 13:
				err = sec.Restore()
			case r < 15:
				if !sec.Deleted() {
					err = sec.UpdateMetadata(fmt.Sprintf("description %d", rng.IntN(4)), tags[:rng.IntN(len(tags)+1)])
				}
			case r < 18:
				if live := sec.LiveVersions(); len(live) > 0 {
					reveals = append(reveals, domain.NewSecretRevealedEvent(sec.ID(), live[rng.IntN(len(live))], md))
				}
			default:
				extra = append(extra, domain.StreamAppend{StreamID: "noise-" + domain.NewID(), Expected: domain.ExpectNoStream,
					Events: []domain.NewEvent{{ID: domain.NewID(), Type: "Noise", SchemaVersion: 1, Data: []byte(`{}`), Metadata: md}}})
			}
			require.NoError(t, err)
		}
		if len(reveals) > 0 {
			extra = append(extra, domain.StreamAppend{StreamID: domain.SecretAccessStream(sec.ID()), Expected: domain.ExpectAny, Events: reveals})
		}
		appends := extra
		if len(sec.Changes()) > 0 {
			appends = append([]domain.StreamAppend{sec.StreamAppend(md)}, extra...)
			rng.Shuffle(len(appends), func(i, j int) { appends[i], appends[j] = appends[j], appends[i] })
		}
		if len(appends) == 0 {
			continue
		}
		_, err = store.AppendStreams(ctx, appends...)
		require.NoError(t, err)
		sec.Committed()
	}
	return sec.ID()
}

// agreeWithFullFold asks tt history pages, a whole paged timeline, diffs and
// as_of summaries and version listings at random instants, and compares each
// answer with the full fold's.
func agreeWithFullFold(t *testing.T, tt vaulttest.Reads, rng *rand.Rand, id string, ref fullFold, head int64) {
	t.Helper()
	ctx := context.Background()
	first := ref.secret[0].Position
	instant := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return ref.secret[rng.IntN(len(ref.secret))].Position
		case 1:
			if len(ref.access) > 0 {
				return ref.access[rng.IntN(len(ref.access))].Position
			}
		}
		return first - 1 + rng.Int64N(head-first+2)
	}

	// The whole timeline, page after page.
	var paged []queries.HistoryEntry
	cursor, limit := "", 1+rng.IntN(40)
	for range 1000 {
		page, err := tt.Secrets.History(ctx, admin(), id, queries.HistoryInput{Cursor: cursor, Limit: limit}, atPos(head))
		require.NoError(t, err)
		paged = append(paged, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, ref.timeline(head), paged, "the whole timeline in pages of %d", limit)

	for range 25 {
		at := instant()
		cursor := max(0, instant()-1-rng.Int64N(3))
		limit := 1 + rng.IntN(30)
		got, err := tt.Secrets.History(ctx, admin(), id, queries.HistoryInput{Cursor: cursorAt(cursor), Limit: limit}, atPos(at))
		if at < first {
			require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "history at %d", at)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, ref.page(t, cursor, limit, at), got, "history after %d, %d entries, at %d", cursor, limit, at)
	}

	for range 25 {
		at := instant()
		want, exists := ref.summary(t, at)
		got, err := value(tt.Secrets.Get(ctx, admin(), id, atPos(at)))
		if !exists {
			require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "secret at %d", at)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, want, got, "secret at %d", at)
		versions, err := value(tt.Secrets.Versions(ctx, admin(), id, atPos(at)))
		require.NoError(t, err)
		wantVersions, _, _ := ref.versions(t, at)
		require.Equal(t, wantVersions, versions, "versions at %d", at)
	}

	for range 25 {
		a, b := instant(), instant()
		from, to := min(a, b), max(a, b)
		got, err := tt.Secrets.Diff(ctx, admin(), id, queries.SecretDiffInput{From: queries.At{Position: &from}, To: queries.At{Position: &to}})
		if to < first {
			require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "diff to %d", to)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, ref.diff(t, from, to), got, "diff from %d to %d", from, to)
	}
}

// TestTimeTravelEqualsTheFullFold compares every paged, snapshotted read with
// the straightforward full fold over the same random histories: without
// snapshots, with the snapshots the reads store, and after the snapshots are
// corrupted in every way the vault can notice, or removed.
func TestTimeTravelEqualsTheFullFold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistoryEnv(t)
	type secretCase struct {
		id  string
		ref fullFold
	}
	var cases []secretCase
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 2026))
		keep := 2 + int(seed)
		id := secretHistory(t, e.store, rng, keep, 500, func() int { return 1 + rng.IntN(3) })
		cases = append(cases, secretCase{id: id, ref: newFullFold(t, e.store, id)})
	}
	head, err := e.store.HeadPosition(ctx)
	require.NoError(t, err)
	streams := make([]string, 0, len(cases))
	for _, c := range cases {
		require.Greater(t, len(c.ref.secret), 3*fold.SnapshotEvery, "long enough to be snapshotted several times")
		streams = append(streams, domain.StreamID(domain.SecretAggregate, c.id))
	}
	snapshotRows := func() int {
		var n int
		require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM stream_snapshots WHERE stream_id = ANY($1)`, streams).Scan(&n))
		return n
	}
	corrupt := func(sql string) {
		t.Helper()
		_, err := e.db.Pool.Exec(ctx, sql, streams)
		require.NoError(t, err)
	}

	passes := []struct {
		name   string
		tt     vaulttest.Reads
		before func()
	}{
		{"without snapshots", e.plain, func() {}},
		{"storing snapshots as it reads", e.snapshots, func() { require.Zero(t, snapshotRows()) }},
		{"from the snapshots stored", e.snapshots, func() { require.Greater(t, snapshotRows(), 3*len(cases)) }},
		{"snapshots that are not JSON", e.snapshots, func() {
			corrupt(`UPDATE stream_snapshots SET state = convert_to('not json', 'UTF8') WHERE stream_id = ANY($1) AND position % 2 = 0`)
		}},
		{"snapshots holding another version's state", e.snapshots, func() {
			corrupt(`UPDATE stream_snapshots s SET state = o.state
				FROM stream_snapshots o WHERE s.stream_id = ANY($1) AND o.stream_id = s.stream_id AND o.position < s.position`)
		}},
		{"snapshots holding another secret's state", e.snapshots, func() {
			corrupt(`UPDATE stream_snapshots s SET state = o.state
				FROM stream_snapshots o WHERE s.stream_id = ANY($1) AND o.stream_id <> s.stream_id AND o.stream_id LIKE 'secret-%'`)
		}},
		{"snapshots whose event the log does not hold", e.snapshots, func() {
			corrupt(`UPDATE stream_snapshots SET event_hash = '\x00' WHERE stream_id = ANY($1) AND position % 3 = 0`)
			corrupt(`UPDATE stream_snapshots SET version = version + 1 WHERE stream_id = ANY($1) AND position % 3 = 1`)
		}},
		{"snapshots removed", e.snapshots, func() { corrupt(`DELETE FROM stream_snapshots WHERE stream_id = ANY($1)`) }},
	}
	for i, pass := range passes {
		pass.before()
		for j, c := range cases {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(j)))
			t.Run(pass.name, func(t *testing.T) { agreeWithFullFold(t, pass.tt, rng, c.id, c.ref, head) })
		}
	}
}

// TestTimeTravelCostsThePage counts the events each read takes from the log:
// with snapshots stored, a history page, an as_of read and a short diff of a
// long secret read no more than those of a short one, and about a page.
func TestTimeTravelCostsThePage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistoryEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	short := secretHistory(t, e.store, rng, 3, 800, func() int { return 10 })
	long := secretHistory(t, e.store, rng, 3, 8000, func() int { return 50 })
	head, err := e.store.HeadPosition(ctx)
	require.NoError(t, err)

	const limit = 100
	type reads struct{ first, middle, asOf, diff int64 }
	measure := func(id string) reads {
		secret, _ := readSecretStreams(t, e.store, id)
		middle := secret[len(secret)/2]
		until := secret[min(len(secret)-1, len(secret)/2+limit)].Position
		count := func(read func() error) int64 {
			require.NoError(t, read()) // the first read may fold and store snapshots
			before := e.log.read.Load()
			require.NoError(t, read())
			return e.log.read.Load() - before
		}
		at := atPos(head)
		return reads{
			first: count(func() error {
				_, err := e.snapshots.Secrets.History(ctx, admin(), id, queries.HistoryInput{Limit: limit}, at)
				return err
			}),
			middle: count(func() error {
				_, err := e.snapshots.Secrets.History(ctx, admin(), id, queries.HistoryInput{Cursor: cursorAt(middle.Position), Limit: limit}, at)
				return err
			}),
			asOf: count(func() error {
				_, err := value(e.snapshots.Secrets.Get(ctx, admin(), id, atPos(middle.Position)))
				return err
			}),
			diff: count(func() error {
				_, err := e.snapshots.Secrets.Diff(ctx, admin(), id, queries.SecretDiffInput{
					From: queries.At{Position: &middle.Position}, To: queries.At{Position: &until},
				})
				return err
			}),
		}
	}
	s, l := measure(short), measure(long)
	t.Logf("events read, short secret: %+v; long secret: %+v", s, l)
	// A page: the page of each stream and one more, plus at most the
	// events between the nearest snapshot and the cursor, plus the few
	// events fetched by version.
	pageBound := int64(2*(limit+1) + fold.SnapshotEvery + 3)
	require.LessOrEqual(t, l.first, pageBound)
	require.LessOrEqual(t, l.middle, pageBound)
	require.LessOrEqual(t, l.asOf, int64(fold.SnapshotEvery+3))
	// A diff reads the events between its instants too.
	require.LessOrEqual(t, l.diff, int64(2*(limit+1)+2*fold.SnapshotEvery+limit+3))
	for _, pair := range [][2]int64{{s.first, l.first}, {s.middle, l.middle}, {s.asOf, l.asOf}, {s.diff, l.diff}} {
		require.LessOrEqual(t, pair[1], pair[0]+fold.SnapshotEvery, "a long history costs no more than a short one")
	}
}
