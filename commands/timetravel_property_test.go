package commands_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
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

func (l *countingLog) ReadStreamUntil(ctx context.Context, streamID string, afterVersion, maxPosition int64, limit int) ([]domain.RecordedEvent, error) {
	return l.count(l.Store.ReadStreamUntil(ctx, streamID, afterVersion, maxPosition, limit))
}

func (l *countingLog) ReadStreamPositions(ctx context.Context, streamID string, afterPosition, maxPosition int64, limit int) ([]domain.RecordedEvent, error) {
	return l.count(l.Store.ReadStreamPositions(ctx, streamID, afterPosition, maxPosition, limit))
}

func (l *countingLog) ReadStreamVersions(ctx context.Context, streamID string, versions []int64) ([]domain.RecordedEvent, error) {
	return l.count(l.Store.ReadStreamVersions(ctx, streamID, versions))
}

// historyEnv is one log with time travel over it twice: with the store's
// snapshots, and folding every stream from its start.
type historyEnv struct {
	db        *pgtest.Database
	store     *eventstore.Store
	log       *countingLog
	snapshots *commands.TimeTravel
	plain     *commands.TimeTravel
}

func newHistoryEnv(t *testing.T) *historyEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.Pool, discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	e := &historyEnv{db: db, store: store, log: &countingLog{Store: store}}
	dataKeys := newDataKeys(t, db)
	_, e.snapshots = timeTravelOver(t, db, commands.NewService(e.log, nil, discardLogger(), commands.Options{Snapshots: store}), dataKeys, 0)
	_, e.plain = timeTravelOver(t, db, commands.NewService(e.log, nil, discardLogger(), commands.Options{}), dataKeys, 0)
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

// fullFold answers every time-travel question about one secret the
// straightforward way: by folding every prefix of its whole stream, and
// reading the whole access stream. It is the oracle the paged, snapshotted
// reads are compared with.
type fullFold struct {
	secret []domain.RecordedEvent
	access []domain.RecordedEvent
	// states[i] is the fold of the stream's first i events; entries is the
	// whole timeline. Both are computed once: the oracle is slow on purpose.
	states  []refState
	entries []commands.HistoryEntry
}

func newFullFold(t *testing.T, store *eventstore.Store, id string) fullFold {
	t.Helper()
	secret, access := readSecretStreams(t, store, id)
	f := fullFold{secret: secret, access: access}
	for i := range len(secret) + 1 {
		f.states = append(f.states, foldPrefix(t, secret[:i]))
	}
	for i, ev := range secret {
		e := refEntry(ev)
		e.Changes = refChanges(f.states[i], f.states[i+1], true)
		f.entries = append(f.entries, e)
	}
	for _, ev := range access {
		if ev.Type == domain.EventSecretRevealed {
			e := refEntry(ev)
			e.RevealedVersion = revealedVersion(t, ev)
			f.entries = append(f.entries, e)
		}
	}
	slices.SortFunc(f.entries, func(a, b commands.HistoryEntry) int { return cmp.Compare(a.Position, b.Position) })
	return f
}

// readSecretStreams reads a secret's stream and access stream whole.
func readSecretStreams(t *testing.T, store *eventstore.Store, id string) (secret, access []domain.RecordedEvent) {
	t.Helper()
	ctx := context.Background()
	secret, err := store.ReadStream(ctx, domain.StreamID(domain.SecretAggregate, id), 0, 0)
	require.NoError(t, err)
	access, err = store.ReadStream(ctx, domain.SecretAccessStream(id), 0, 0)
	require.NoError(t, err)
	return secret, access
}

// stateAt is the fold of the stream up to pos.
func (f fullFold) stateAt(pos int64) refState { return f.states[len(upTo(f.secret, pos))] }

// refState is the secret after a prefix of its stream: metadata from the
// domain's fold, each version's state straight from the events.
type refState struct {
	exists                  bool
	name, description, live string
	tags                    []string
	current                 int64
	versions                map[int64]string
}

func foldPrefix(t *testing.T, events []domain.RecordedEvent) refState {
	t.Helper()
	if len(events) == 0 {
		return refState{}
	}
	sec, err := domain.LoadSecret(events)
	require.NoError(t, err)
	st := refState{exists: true, name: sec.Name(), description: sec.Description(), tags: sec.Tags(), live: domain.SecretStateActive, versions: map[int64]string{}}
	if st.tags == nil {
		st.tags = []string{}
	}
	if sec.Deleted() {
		st.live = domain.SecretStateDeleted
	}
	for _, ev := range events {
		var e struct {
			Version int64 `json:"version"`
		}
		switch ev.Type {
		case domain.EventSecretVersionAdded:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			st.versions[e.Version] = domain.SecretVersionStateActive
			st.current = max(st.current, e.Version)
		case domain.EventSecretVersionDestroyed:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			st.versions[e.Version] = domain.SecretVersionStateDestroyed
		}
	}
	return st
}

func refChanges(a, b refState, withVersions bool) map[string]commands.Change {
	out := map[string]commands.Change{}
	was := func(v any) any {
		if !a.exists {
			return nil
		}
		return v
	}
	if !a.exists || a.name != b.name {
		out["name"] = commands.Change{From: was(a.name), To: b.name}
	}
	if !a.exists || a.description != b.description {
		out["description"] = commands.Change{From: was(a.description), To: b.description}
	}
	if !a.exists || !slices.Equal(a.tags, b.tags) {
		out["tags"] = commands.Change{From: was(a.tags), To: b.tags}
	}
	if !a.exists || a.live != b.live {
		out["state"] = commands.Change{From: was(a.live), To: b.live}
	}
	if a.current != b.current {
		out["current_version"] = commands.Change{From: was(a.current), To: b.current}
	}
	if withVersions {
		for v, state := range b.versions {
			if before, ok := a.versions[v]; !ok || before != state {
				var from any
				if ok {
					from = before
				}
				out[fmt.Sprintf("versions.%d", v)] = commands.Change{From: from, To: state}
			}
		}
	}
	return out
}

func upTo(events []domain.RecordedEvent, pos int64) []domain.RecordedEvent {
	return domain.EventsUpTo(events, pos)
}

func refEntry(ev domain.RecordedEvent) commands.HistoryEntry {
	return commands.HistoryEntry{
		Position: ev.Position, EventID: ev.ID, Type: ev.Type, Timestamp: ev.RecordedAt,
		Actor: commands.Actor{ID: ev.Metadata.Actor, Name: ev.Metadata.ActorName},
		IP:    ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent, RequestID: ev.Metadata.RequestID,
		Changes: map[string]commands.Change{},
	}
}

func revealedVersion(t *testing.T, ev domain.RecordedEvent) int64 {
	var r domain.SecretRevealed
	require.NoError(t, json.Unmarshal(ev.Data, &r))
	return r.Version
}

// timeline is every entry up to pos, each change computed by comparing the
// folds of the stream before and after its event.
func (f fullFold) timeline(pos int64) []commands.HistoryEntry {
	var out []commands.HistoryEntry
	for _, e := range f.entries {
		if e.Position <= pos {
			out = append(out, e)
		}
	}
	return out
}

func (f fullFold) page(t *testing.T, cursor int64, limit int, pos int64) commands.HistoryPage {
	page := commands.HistoryPage{Items: []commands.HistoryEntry{}}
	all := f.timeline(pos)
	for i, e := range all {
		if e.Position <= cursor {
			continue
		}
		page.Items = append(page.Items, e)
		if len(page.Items) == limit {
			if i < len(all)-1 {
				page.NextCursor = e.Position
			}
			break
		}
	}
	return page
}

// versions is the version listing at pos, from the events alone.
func (f fullFold) versions(t *testing.T, pos int64) (infos []domain.SecretVersionInfo, added, destroyed map[int64]int64) {
	added, destroyed = map[int64]int64{}, map[int64]int64{}
	infos = []domain.SecretVersionInfo{}
	for _, ev := range upTo(f.secret, pos) {
		var e struct {
			Version   int64  `json:"version"`
			Generated bool   `json:"generated"`
			Reason    string `json:"reason"`
		}
		switch ev.Type {
		case domain.EventSecretVersionAdded:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			added[e.Version] = ev.Position
			infos = append(infos, domain.SecretVersionInfo{Version: e.Version, State: domain.SecretVersionStateActive, Generated: e.Generated,
				CreatedAt: ev.RecordedAt, CreatedBy: ev.Metadata.Actor})
		case domain.EventSecretVersionDestroyed:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			if _, done := destroyed[e.Version]; done {
				continue
			}
			destroyed[e.Version] = ev.Position
			at := ev.RecordedAt
			info := &infos[e.Version-1]
			info.State, info.DestroyedAt, info.DestroyedBy, info.DestroyReason = domain.SecretVersionStateDestroyed, &at, ev.Metadata.Actor, e.Reason
		}
	}
	return infos, added, destroyed
}

func (f fullFold) summary(t *testing.T, pos int64) (domain.SecretSummary, bool) {
	events := upTo(f.secret, pos)
	if len(events) == 0 {
		return domain.SecretSummary{}, false
	}
	st := f.stateAt(pos)
	live := int64(0)
	for _, s := range st.versions {
		if s == domain.SecretVersionStateActive {
			live++
		}
	}
	first, last := events[0], events[len(events)-1]
	return domain.SecretSummary{
		ID: strings.TrimPrefix(first.StreamID, domain.SecretAggregate+"-"), Name: st.name, Description: st.description, Tags: st.tags,
		CurrentVersion: st.current, VersionCount: live, State: st.live,
		CreatedAt: first.RecordedAt, CreatedBy: first.Metadata.Actor, UpdatedAt: last.RecordedAt, UpdatedBy: last.Metadata.Actor,
	}, true
}

func (f fullFold) diff(t *testing.T, from, to int64) commands.SecretDiff {
	before, after := f.stateAt(from), f.stateAt(to)
	out := commands.SecretDiff{
		SecretID: strings.TrimPrefix(f.secret[0].StreamID, domain.SecretAggregate+"-"), Name: after.name,
		From: commands.Instant{Position: from}, To: commands.Instant{Position: to}, Existed: before.exists,
		Changes:       refChanges(before, after, false),
		VersionsAdded: []domain.SecretVersionInfo{}, VersionsDestroyed: []domain.SecretVersionInfo{}, Reveals: []commands.Reveal{},
	}
	infos, added, destroyed := f.versions(t, to)
	for _, info := range infos {
		if added[info.Version] > from {
			out.VersionsAdded = append(out.VersionsAdded, info)
		}
		if d, ok := destroyed[info.Version]; ok && d > from {
			out.VersionsDestroyed = append(out.VersionsDestroyed, info)
		}
	}
	for _, ev := range upTo(f.access, to) {
		if ev.Position > from && ev.Type == domain.EventSecretRevealed {
			out.Reveals = append(out.Reveals, commands.Reveal{
				Position: ev.Position, EventID: ev.ID, Timestamp: ev.RecordedAt,
				Actor:   commands.Actor{ID: ev.Metadata.Actor, Name: ev.Metadata.ActorName},
				Version: revealedVersion(t, ev), IP: ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent,
			})
		}
	}
	return out
}

// agreeWithFullFold asks tt history pages, a whole paged timeline, diffs and
// as_of summaries and version listings at random instants, and compares each
// answer with the full fold's.
func agreeWithFullFold(t *testing.T, tt *commands.TimeTravel, rng *rand.Rand, id string, ref fullFold, head int64) {
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
	var paged []commands.HistoryEntry
	cursor, limit := int64(0), 1+rng.IntN(40)
	for range 1000 {
		page, err := tt.SecretHistory(ctx, admin(), id, commands.HistoryInput{Cursor: cursor, Limit: limit}, commands.Instant{Position: head})
		require.NoError(t, err)
		paged = append(paged, page.Items...)
		if page.NextCursor == 0 {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, ref.timeline(head), paged, "the whole timeline in pages of %d", limit)

	for range 25 {
		at := instant()
		cursor := max(0, instant()-1-rng.Int64N(3))
		limit := 1 + rng.IntN(30)
		got, err := tt.SecretHistory(ctx, admin(), id, commands.HistoryInput{Cursor: cursor, Limit: limit}, commands.Instant{Position: at})
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
		got, err := tt.SecretAt(ctx, admin(), id, commands.Instant{Position: at})
		if !exists {
			require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "secret at %d", at)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, want, got, "secret at %d", at)
		versions, err := tt.SecretVersionsAt(ctx, admin(), id, commands.Instant{Position: at})
		require.NoError(t, err)
		wantVersions, _, _ := ref.versions(t, at)
		require.Equal(t, wantVersions, versions, "versions at %d", at)
	}

	for range 25 {
		a, b := instant(), instant()
		from, to := min(a, b), max(a, b)
		got, err := tt.SecretDiff(ctx, admin(), id, commands.SecretDiffInput{From: commands.AsOf{Position: &from}, To: commands.AsOf{Position: &to}})
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
		require.Greater(t, len(c.ref.secret), 3*commands.SnapshotEvery, "long enough to be snapshotted several times")
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
		tt     *commands.TimeTravel
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
		at := commands.Instant{Position: head}
		return reads{
			first: count(func() error {
				_, err := e.snapshots.SecretHistory(ctx, admin(), id, commands.HistoryInput{Limit: limit}, at)
				return err
			}),
			middle: count(func() error {
				_, err := e.snapshots.SecretHistory(ctx, admin(), id, commands.HistoryInput{Cursor: middle.Position, Limit: limit}, at)
				return err
			}),
			asOf: count(func() error {
				_, err := e.snapshots.SecretAt(ctx, admin(), id, commands.Instant{Position: middle.Position})
				return err
			}),
			diff: count(func() error {
				_, err := e.snapshots.SecretDiff(ctx, admin(), id, commands.SecretDiffInput{
					From: commands.AsOf{Position: &middle.Position}, To: commands.AsOf{Position: &until},
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
	pageBound := int64(2*(limit+1) + commands.SnapshotEvery + 3)
	require.LessOrEqual(t, l.first, pageBound)
	require.LessOrEqual(t, l.middle, pageBound)
	require.LessOrEqual(t, l.asOf, int64(commands.SnapshotEvery+3))
	// A diff reads the events between its instants too.
	require.LessOrEqual(t, l.diff, int64(2*(limit+1)+2*commands.SnapshotEvery+limit+3))
	for _, pair := range [][2]int64{{s.first, l.first}, {s.middle, l.middle}, {s.asOf, l.asOf}, {s.diff, l.diff}} {
		require.LessOrEqual(t, pair[1], pair[0]+commands.SnapshotEvery, "a long history costs no more than a short one")
	}
}
