package fold

import (
	"context"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
)

// latestSnapshot is the newest usable snapshot of a stream in its layout.
func latestSnapshot(t *testing.T, store *eventstore.Store, streamID string) (domain.Snapshot, bool) {
	t.Helper()
	layout, ok := domain.SnapshotLayout(domain.AggregateOf(streamID))
	require.True(t, ok)
	snap, found, err := store.SnapshotAt(context.Background(), streamID, layout, math.MaxInt64)
	require.NoError(t, err)
	return snap, found
}

func TestLongStreamsLoadFromSnapshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, store, logger := newTestStore(t)
	l := NewLoader(store, store, logger)

	user, err := domain.NewUser(domain.NewID(), "snappy", "", domain.SealedPassword{Version: 1, Sealed: []byte("sealed-hash")})
	require.NoError(t, err)
	appendLogins := func(n int) {
		for range n {
			require.NoError(t, user.RecordLoginSucceeded(domain.NewID(), "192.0.2.1", time.Now()))
		}
		_, err := store.AppendStreams(ctx, user.StreamAppend(domain.Metadata{Actor: domain.SystemActor}))
		require.NoError(t, err)
		user.Committed()
	}
	load := func() *domain.User {
		u, _, err := Latest(ctx, l, user.StreamID(), domain.LoadUser, domain.RestoreUser)
		require.NoError(t, err)
		return u
	}
	foldAll := func() *domain.User {
		events, err := l.ReadStream(ctx, user.StreamID())
		require.NoError(t, err)
		u, err := domain.LoadUser(events)
		require.NoError(t, err)
		return u
	}
	sameState := func(a, b *domain.User) {
		t.Helper()
		sa, va, err := a.Snapshot()
		require.NoError(t, err)
		sb, vb, err := b.Snapshot()
		require.NoError(t, err)
		require.Equal(t, vb, va)
		require.JSONEq(t, string(sb), string(sa))
	}

	appendLogins(SnapshotEvery - 2) // a short stream: no snapshot
	sameState(load(), foldAll())
	_, ok := latestSnapshot(t, store, user.StreamID())
	require.False(t, ok, "short streams are not worth a snapshot")

	appendLogins(2 * SnapshotEvery) // long: the load stores one
	sameState(load(), foldAll())
	snap, ok := latestSnapshot(t, store, user.StreamID())
	require.True(t, ok)
	require.Equal(t, user.Version(), snap.Version)

	appendLogins(7) // snapshot plus the events after it
	sameState(load(), foldAll())

	// A snapshot is a cache: a corrupt one is ignored, never trusted.
	su := db.Superuser(t)
	_, err = su.Exec(ctx, `UPDATE stream_snapshots SET state = '{"layout": 999, "stream_id": "x", "state": {}}' WHERE stream_id = $1`, user.StreamID())
	require.NoError(t, err)
	sameState(load(), foldAll())
	// A state of another stream under this stream's key is refused too.
	other, err := domain.NewUser(domain.NewID(), "other", "", domain.SealedPassword{Version: 1, Sealed: []byte("sealed-hash-stand-in")})
	require.NoError(t, err)
	_, err = store.AppendStreams(ctx, other.StreamAppend(domain.Metadata{Actor: domain.SystemActor}))
	require.NoError(t, err)
	other.Committed()
	foreign, _, err := other.Snapshot()
	require.NoError(t, err)
	_, err = su.Exec(ctx, `UPDATE stream_snapshots SET state = $2 WHERE stream_id = $1`, user.StreamID(), foreign)
	require.NoError(t, err)
	got := load()
	require.Equal(t, user.StreamID(), got.StreamID())
	sameState(got, foldAll())
}

func TestSecretsLoadFromSnapshotsAndKeepTheirPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store, logger := newTestStore(t)
	l := NewLoader(store, store, logger)

	sec, err := domain.NewSecret(domain.NewID(), "prod/rotating", "", nil)
	require.NoError(t, err)
	var last int64
	rotate := func(n int) {
		for range n {
			_, err := sec.AddVersion(sec.NextVersion(), []byte("sealed-bytes"), "local", false, 10)
			require.NoError(t, err)
		}
		res, err := store.AppendStreams(ctx, sec.StreamAppend(domain.Metadata{Actor: domain.SystemActor}))
		require.NoError(t, err)
		sec.Committed()
		last = res.LastPosition
	}
	check := func(wantPosition int64) {
		t.Helper()
		got, position, err := Latest(ctx, l, sec.StreamID(), domain.LoadSecret, domain.RestoreSecret)
		require.NoError(t, err)
		require.Equal(t, wantPosition, position)
		events, err := l.ReadStream(ctx, sec.StreamID())
		require.NoError(t, err)
		want, err := domain.LoadSecret(events)
		require.NoError(t, err)
		require.Equal(t, want.CurrentVersion(), got.CurrentVersion())
		require.Equal(t, want.LiveVersions(), got.LiveVersions())
	}

	rotate(3 * SnapshotEvery) // folds everything once, then stores a snapshot
	check(last)
	_, ok := latestSnapshot(t, store, sec.StreamID())
	require.True(t, ok)
	check(last) // from the snapshot, with no event after it: it names its event's position

	// The position is the stream's own last one, not the head of the log,
	// even when other streams moved on: a command that appends nothing
	// reports it.
	_, err = store.Append(ctx, "other-"+domain.NewID(), domain.ExpectNoStream, domain.NewEvent{
		ID: domain.NewID(), Type: "Other", SchemaVersion: 1, Data: []byte(`{}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.NoError(t, err)
	check(last)

	rotate(2)
	check(last) // snapshot plus two events
}

// newTestStore is an event store on a database of the test's own.
func newTestStore(t *testing.T) (*pgtest.Database, *eventstore.Store, *slog.Logger) {
	t.Helper()
	db := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)
	return db, store, logger
}
