package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
)

// newStore opens a store as vaultd does: over the application role's pool,
// with the database's chain key.
func newStore(t *testing.T, opts eventstore.Options) (*eventstore.Store, *pgtest.Database) {
	t.Helper()
	db := pgtest.New(t)
	return openStore(t, db, opts), db
}

func openStore(t *testing.T, db *pgtest.Database, opts eventstore.Options, previousKeys ...[]byte) *eventstore.Store {
	t.Helper()
	keys, err := eventstore.NewChainKeys(db.ChainKey, previousKeys...)
	require.NoError(t, err)
	s := eventstore.New(db.AppPool, keys, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	t.Cleanup(s.Close)
	return s
}

func event(typ string, data any) domain.NewEvent {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return domain.NewEvent{
		ID: uuid.NewString(), Type: typ, SchemaVersion: 1, Data: raw,
		Metadata: domain.Metadata{Actor: "user-1", ClientIP: "192.0.2.7", UserAgent: "test", RequestID: "req-1", CorrelationID: "corr-1", CausationID: "cause-1"},
	}
}

func TestAppendExpectedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})

	// Every case starts from a stream holding two events.
	cases := []struct {
		name     string
		expected domain.ExpectedVersion
		wantCode string
		wantVer  int64
	}{
		{"any appends whatever the version", domain.ExpectAny, "", 3},
		{"exact current version appends", domain.ExpectVersion(2), "", 3},
		{"stale version conflicts", domain.ExpectVersion(1), domain.ECONFLICT, 0},
		{"future version conflicts", domain.ExpectVersion(5), domain.ECONFLICT, 0},
		{"no stream conflicts on an existing stream", domain.ExpectNoStream, domain.ECONFLICT, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream := "test-" + uuid.NewString()
			_, err := s.Append(ctx, stream, domain.ExpectNoStream, event("Created", map[string]int{"n": 1}), event("Changed", map[string]int{"n": 2}))
			require.NoError(t, err)

			res, err := s.Append(ctx, stream, tc.expected, event("Changed", map[string]int{"n": 3}))
			if tc.wantCode != "" {
				require.Equal(t, tc.wantCode, domain.ErrorCode(err), "error: %v", err)
				events, err := s.ReadStream(ctx, stream, 0, 0)
				require.NoError(t, err)
				require.Len(t, events, 2, "a refused append writes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantVer, res.Versions[stream])
			events, err := s.ReadStream(ctx, stream, 0, 0)
			require.NoError(t, err)
			require.Len(t, events, 3)
			require.Equal(t, res.LastPosition, events[2].Position)
		})
	}
}

func TestAppendRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	stream := "secret-" + uuid.NewString()
	// Unusual but valid JSON formatting must survive byte for byte: the hash
	// chain covers the exact bytes.
	ev := event("SecretCreated", nil)
	ev.Data = json.RawMessage(`{"b": 1,   "a":[1, 2], "ü":"\u00fc"}`)
	res, err := s.Append(ctx, stream, domain.ExpectNoStream, ev)
	require.NoError(t, err)

	got, err := s.ReadStream(ctx, stream, 0, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ev.ID, got[0].ID)
	require.Equal(t, stream, got[0].StreamID)
	require.Equal(t, "secret", got[0].Aggregate())
	require.Equal(t, int64(1), got[0].Version)
	require.Equal(t, res.LastPosition, got[0].Position)
	require.Equal(t, string(ev.Data), string(got[0].Data))
	require.Equal(t, ev.Metadata, got[0].Metadata)
	require.WithinDuration(t, time.Now(), got[0].RecordedAt, time.Minute)
	require.Len(t, got[0].Hash, 32)
}

func TestAppendIsIdempotentOnEventID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	stream := "test-" + uuid.NewString()
	a, b := event("A", 1), event("B", 2)

	first, err := s.Append(ctx, stream, domain.ExpectNoStream, a, b)
	require.NoError(t, err)
	// The same append again, with the same (now stale) expectation, succeeds
	// and reports the original position.
	again, err := s.Append(ctx, stream, domain.ExpectNoStream, a, b)
	require.NoError(t, err)
	require.Equal(t, first.LastPosition, again.LastPosition)

	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, first.LastPosition, head, "nothing new was written")

	// Mixing a stored id with a new one is refused: appends are all or nothing.
	_, err = s.Append(ctx, stream, domain.ExpectAny, a, event("C", 3))
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err))
}

func TestAppendStreamsIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	name := "reservation-" + uuid.NewString()

	userA := "user-" + uuid.NewString()
	_, err := s.AppendStreams(ctx,
		domain.StreamAppend{StreamID: name, Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("Reserved", userA)}},
		domain.StreamAppend{StreamID: userA, Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("UserCreated", userA)}},
	)
	require.NoError(t, err)

	// A second aggregate that wants the same name loses on the reservation,
	// and its own first event is not written either.
	userB := "user-" + uuid.NewString()
	_, err = s.AppendStreams(ctx,
		domain.StreamAppend{StreamID: name, Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("Reserved", userB)}},
		domain.StreamAppend{StreamID: userB, Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("UserCreated", userB)}},
	)
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err))
	events, err := s.ReadStream(ctx, userB, 0, 0)
	require.NoError(t, err)
	require.Empty(t, events)
}

func TestConcurrentReservationsHaveOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	name := "reservation-" + uuid.NewString()

	const contenders = 20
	var wg sync.WaitGroup
	errs := make([]error, contenders)
	for i := range contenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "user-" + uuid.NewString()
			_, errs[i] = s.AppendStreams(ctx,
				domain.StreamAppend{StreamID: name, Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("Reserved", user)}},
				domain.StreamAppend{StreamID: user, Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("UserCreated", user)}},
			)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "error: %v", err)
	}
	require.Equal(t, 1, won)
}

func TestRejectsInvalidAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	valid := event("A", 1)
	dup := event("B", 2)
	cases := []struct {
		name    string
		appends []domain.StreamAppend
	}{
		{"no streams", nil},
		{"empty stream id", []domain.StreamAppend{{StreamID: "", Expected: domain.ExpectAny, Events: []domain.NewEvent{valid}}}},
		{"no events", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny}}},
		{"bad expected version", []domain.StreamAppend{{StreamID: "s-1", Expected: -7, Events: []domain.NewEvent{valid}}}},
		{"id not a uuid", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{{ID: "x", Type: "A", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}}}},
		{"empty type", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{{ID: uuid.NewString(), SchemaVersion: 1, Data: json.RawMessage(`{}`)}}}}},
		{"schema version 0", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{{ID: uuid.NewString(), Type: "A", Data: json.RawMessage(`{}`)}}}}},
		{"schema version past int32", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{{ID: uuid.NewString(), Type: "A", SchemaVersion: math.MaxInt32 + 1, Data: json.RawMessage(`{}`)}}}}},
		{"invalid json", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{{ID: uuid.NewString(), Type: "A", SchemaVersion: 1, Data: json.RawMessage(`{`)}}}}},
		{"same stream twice", []domain.StreamAppend{
			{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{valid}},
			{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{event("C", 3)}},
		}},
		{"same event id twice", []domain.StreamAppend{{StreamID: "s-1", Expected: domain.ExpectAny, Events: []domain.NewEvent{dup, dup}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AppendStreams(ctx, tc.appends...)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "error: %v", err)
		})
	}
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	require.Zero(t, head, "invalid appends write nothing")
}

// TestReaderNeverSkipsAnEvent is the proof that readers paging by position
// see every event exactly once, in order, while many appenders commit
// concurrently.
func TestReaderNeverSkipsAnEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})

	const appenders, perAppender = 32, 40
	total := int64(appenders * perAppender)
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("load-%d-%s", a, uuid.NewString())
			for i := range perAppender {
				// A mix of single-event and two-stream appends.
				var err error
				if i%5 == 0 {
					_, err = s.AppendStreams(ctx,
						domain.StreamAppend{StreamID: stream, Expected: domain.ExpectVersion(int64(i)), Events: []domain.NewEvent{event("E", i)}},
						domain.StreamAppend{StreamID: "side-" + uuid.NewString(), Expected: domain.ExpectNoStream, Events: []domain.NewEvent{event("S", i)}},
					)
				} else {
					_, err = s.Append(ctx, stream, domain.ExpectVersion(int64(i)), event("E", i))
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}

	readers := 3
	seen := make([][]int64, readers)
	var rwg sync.WaitGroup
	for r := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			var after int64
			deadline := time.Now().Add(2 * time.Minute)
			want := total + total/5 // every fifth append writes a side event too
			for after < want && time.Now().Before(deadline) {
				page, err := s.ReadAll(ctx, after, 7) // small pages interleave with commits
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				for _, ev := range page {
					seen[r] = append(seen[r], ev.Position)
					after = ev.Position
				}
			}
		}()
	}
	wg.Wait()
	rwg.Wait()

	want := total + total/5
	for r := range readers {
		require.Len(t, seen[r], int(want), "reader %d", r)
		for i, p := range seen[r] {
			require.Equal(t, int64(i+1), p, "reader %d saw position %d at index %d", r, p, i)
		}
	}
}

func TestConcurrentWritersToOneStreamNeverClash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	stream := "contended-" + uuid.NewString()

	const writers, rounds = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				v, err := s.StreamVersion(ctx, stream)
				if err != nil {
					t.Errorf("version: %v", err)
					return
				}
				_, err = s.Append(ctx, stream, domain.ExpectVersion(v), event("Tick", v))
				switch domain.ErrorCode(err) {
				case "":
					mu.Lock()
					wins++
					mu.Unlock()
				case domain.ECONFLICT:
				default:
					t.Errorf("append: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	events, err := s.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, wins, "each successful append wrote exactly one version")
	for i, ev := range events {
		require.Equal(t, int64(i+1), ev.Version)
	}
}

func TestUpcastersRewritePayloadsOnRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{Upcasters: map[string]eventstore.Upcaster{
		"Renamed": func(v int, data json.RawMessage) (int, json.RawMessage, error) {
			if v != 1 {
				return v, data, nil
			}
			var old struct{ Name string }
			if err := json.Unmarshal(data, &old); err != nil {
				return v, nil, err
			}
			out, err := json.Marshal(map[string]string{"display_name": old.Name})
			return 2, out, err
		},
	}})
	stream := "thing-" + uuid.NewString()
	_, err := s.Append(ctx, stream, domain.ExpectNoStream, event("Renamed", map[string]string{"Name": "x"}))
	require.NoError(t, err)

	got, err := s.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 2, got[0].SchemaVersion)
	require.JSONEq(t, `{"display_name":"x"}`, string(got[0].Data))

	// The stored row is untouched.
	var stored string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT data::text FROM events WHERE stream_id = $1", stream).Scan(&stored))
	require.JSONEq(t, `{"Name":"x"}`, stored)
}

func TestTimeTravelReadsTheLogAsItWas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	stream := "thing-" + uuid.NewString()
	first, err := s.Append(ctx, stream, domain.ExpectNoStream, event("A", 1))
	require.NoError(t, err)
	between := time.Now()
	time.Sleep(5 * time.Millisecond)
	_, err = s.Append(ctx, stream, domain.ExpectVersion(1), event("B", 2))
	require.NoError(t, err)

	pos, err := s.PositionAt(ctx, between)
	require.NoError(t, err)
	require.Equal(t, first.LastPosition, pos)
	got, err := s.ReadStreamUntil(ctx, stream, 0, pos, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "A", got[0].Type)
}

func TestCloseFailsQueuedAppendsCleanly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	s.Close()
	_, err := s.Append(ctx, "x-"+uuid.NewString(), domain.ExpectAny, event("A", 1))
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
}

// TestTwoWritersOnOneDatabase runs two stores, as two vaultd processes
// would, against one log. Each store's writer caches what it knew after its
// own last commit; the other store's appends must invalidate that guess
// without ever producing a gap, a fork of the hash chain or a wrong
// conflict decision.
func TestTwoWritersOnOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, db := newStore(t, eventstore.Options{})
	b := openStore(t, db, eventstore.Options{})
	stream := "shared-" + uuid.NewString()

	// Strict alternation: every append follows one by the other store.
	for i := range 40 {
		s := a
		if i%2 == 1 {
			s = b
		}
		res, err := s.Append(ctx, stream, domain.ExpectVersion(int64(i)), event("Tick", i))
		require.NoError(t, err, "append %d", i)
		require.Equal(t, int64(i+1), res.Versions[stream])
		// A stale expectation is refused by either store, whoever wrote last.
		_, err = s.Append(ctx, stream, domain.ExpectVersion(int64(i)), event("Tick", i))
		require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err))
	}

	// And concurrently, to distinct and shared streams.
	var wg sync.WaitGroup
	for _, s := range []*eventstore.Store{a, b} {
		wg.Go(func() {
			own := "own-" + uuid.NewString()
			for i := range 50 {
				if _, err := s.Append(ctx, own, domain.ExpectVersion(int64(i)), event("Own", i)); err != nil {
					t.Errorf("append own: %v", err)
					return
				}
				if _, err := s.Append(ctx, stream, domain.ExpectAny, event("Shared", i)); err != nil {
					t.Errorf("append shared: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	report, err := a.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)
	require.Equal(t, int64(40+2*100), report.Checked)
	events, err := a.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 40+2*50)
	for i, ev := range events {
		require.Equal(t, int64(i+1), ev.Version)
	}
}
