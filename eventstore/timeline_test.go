package eventstore_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
)

// Two streams appended in random interleavings: every position range of one
// of them, read by binary search over its versions, must be exactly the
// stream's events filtered by position.
func TestReadStreamPositionsIsTheFilteredStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.Options{})
	rng := rand.New(rand.NewPCG(7, 11))
	target, other := "thing-"+uuid.NewString(), "thing-"+uuid.NewString()
	for range 120 {
		stream := other
		if rng.IntN(3) > 0 {
			stream = target
		}
		events := make([]domain.NewEvent, 1+rng.IntN(3))
		for i := range events {
			events[i] = event("E", i)
		}
		_, err := s.Append(ctx, stream, domain.ExpectAny, events...)
		require.NoError(t, err)
	}
	all, err := s.ReadStream(ctx, target, 0, 0)
	require.NoError(t, err)
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)

	want := func(after, until int64, limit int) []int64 {
		var out []int64
		for _, ev := range all {
			if ev.Position > after && ev.Position <= until && len(out) < limit {
				out = append(out, ev.Position)
			}
		}
		return out
	}
	positions := func(events []domain.RecordedEvent) []int64 {
		var out []int64
		for _, ev := range events {
			require.Equal(t, target, ev.StreamID)
			out = append(out, ev.Position)
		}
		return out
	}
	check := func(after, until int64, limit int) {
		t.Helper()
		got, err := s.ReadStreamPositions(ctx, target, after, until, limit)
		require.NoError(t, err)
		require.Equal(t, want(after, until, limit), positions(got), "after %d until %d limit %d", after, until, limit)
	}
	check(0, head, 1000)
	check(0, 0, 10)
	check(head, head, 10)
	check(head+5, head+10, 10)
	check(all[0].Position, all[0].Position, 10)
	check(all[0].Position-1, all[0].Position, 10)
	check(all[len(all)-1].Position-1, math.MaxInt64, 10)
	for range 300 {
		after := rng.Int64N(head + 2)
		check(after, after+rng.Int64N(head+2-after), 1+rng.IntN(20))
	}

	none, err := s.ReadStreamPositions(ctx, "thing-"+uuid.NewString(), 0, head, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	picked, err := s.ReadStreamVersions(ctx, target, []int64{3, 1, int64(len(all)), int64(len(all)) + 1})
	require.NoError(t, err)
	require.Equal(t, []int64{all[0].Position, all[2].Position, all[len(all)-1].Position}, positions(picked))
}

func TestSnapshotsByPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	stream := "thing-" + uuid.NewString()
	for i := range 6 {
		_, err := s.Append(ctx, stream, domain.ExpectAny, event("E", i))
		require.NoError(t, err)
		_, err = s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectAny, event("Other", i))
		require.NoError(t, err)
	}
	events, err := s.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	snapAt := func(i int, layout int, state string) domain.Snapshot {
		ev := events[i]
		return domain.Snapshot{StreamID: stream, Layout: layout, Version: ev.Version, Position: ev.Position, EventHash: ev.Hash, State: []byte(state)}
	}
	_, ok, err := s.SnapshotAt(ctx, stream, 1, math.MaxInt64)
	require.NoError(t, err)
	require.False(t, ok)

	require.NoError(t, s.SaveSnapshots(ctx, snapAt(1, 1, "v2"), snapAt(3, 1, "v4"), snapAt(4, 2, "v5 layout 2")))
	require.NoError(t, s.SaveSnapshots(ctx, snapAt(3, 1, "v4 again")), "a second save at one position is a no-op")

	cases := []struct {
		name   string
		layout int
		pos    int64
		want   string
	}{
		{"before the first snapshot", 1, events[1].Position - 1, ""},
		{"at a snapshot", 1, events[1].Position, "v2"},
		{"between two", 1, events[2].Position, "v2"},
		{"the newest", 1, math.MaxInt64, "v4"},
		{"another layout is passed over", 2, events[3].Position, ""},
		{"the other layout's own", 2, math.MaxInt64, "v5 layout 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, ok, err := s.SnapshotAt(ctx, stream, tc.layout, tc.pos)
			require.NoError(t, err)
			if tc.want == "" {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, tc.want, string(snap.State))
		})
	}

	// A snapshot whose event the log does not hold (another hash, or a
	// position that is not that version's) is passed over for the next one.
	forged := snapAt(5, 1, "forged")
	forged.EventHash = []byte("not the event's hash")
	misplaced := snapAt(4, 1, "misplaced")
	misplaced.Position = events[5].Position + 1
	require.NoError(t, s.SaveSnapshots(ctx, forged, misplaced))
	snap, ok, err := s.SnapshotAt(ctx, stream, 1, math.MaxInt64)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v4", string(snap.State))

	// The application role may store and read snapshots (they are a cache).
	su := db.Superuser(t)
	_, err = su.Exec(ctx, "SET ROLE vault_app")
	require.NoError(t, err)
	var n int
	require.NoError(t, su.QueryRow(ctx, "SELECT count(*) FROM stream_snapshots WHERE stream_id = $1", stream).Scan(&n))
	require.Equal(t, 5, n)
	_, err = su.Exec(ctx, `INSERT INTO stream_snapshots (stream_id, layout, position, version, event_hash, state, mac, mac_key_id)
		VALUES ($1, 3, 1, 1, '\x00', '\x00', '\x00', 'k')`, stream)
	require.NoError(t, err)
}
