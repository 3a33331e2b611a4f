package commands

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
)

// storeSnapshots adapts the real event store's snapshot table, as
// cmd/internal/wire does for vaultd.
type storeSnapshots struct{ store *eventstore.Store }

func (s storeSnapshots) LoadSnapshot(ctx context.Context, streamID string) ([]byte, int64, bool, error) {
	snap, ok, err := s.store.LoadSnapshot(ctx, streamID)
	return snap.State, snap.Version, ok, err
}

func (s storeSnapshots) SaveSnapshot(ctx context.Context, streamID string, state []byte, version int64) error {
	return s.store.SaveSnapshot(ctx, streamID, eventstore.Snapshot{Version: version, SchemaVersion: 1, State: state})
}

func TestLongStreamsLoadFromSnapshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)
	svc := NewService(store, nil, logger, Options{Snapshots: storeSnapshots{store}})

	user, err := domain.NewUser(domain.NewID(), "snappy", "", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA")
	require.NoError(t, err)
	appendLogins := func(n int) {
		for range n {
			require.NoError(t, user.RecordLoginSucceeded(domain.NewID(), time.Now()))
		}
		_, err := store.AppendStreams(ctx, user.StreamAppend(domain.Metadata{Actor: domain.SystemActor}))
		require.NoError(t, err)
		user.Committed()
	}
	load := func() *domain.User {
		u, err := loadLatest(ctx, svc, user.StreamID(), domain.LoadUser, domain.RestoreUser)
		require.NoError(t, err)
		return u
	}
	foldAll := func() *domain.User {
		events, err := svc.readStream(ctx, user.StreamID(), 0)
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

	appendLogins(snapshotEvery - 2) // a short stream: no snapshot
	sameState(load(), foldAll())
	_, ok, err := store.LoadSnapshot(ctx, user.StreamID())
	require.NoError(t, err)
	require.False(t, ok, "short streams are not worth a snapshot")

	appendLogins(2 * snapshotEvery) // long: the load stores one
	sameState(load(), foldAll())
	snap, ok, err := store.LoadSnapshot(ctx, user.StreamID())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, user.Version(), snap.Version)

	appendLogins(7) // snapshot plus the events after it
	sameState(load(), foldAll())

	// A snapshot is a cache: a corrupt one is ignored, never trusted.
	su := db.Superuser(t)
	_, err = su.Exec(ctx, `UPDATE snapshots SET state = '{"layout": 999, "stream_id": "x", "state": {}}' WHERE stream_id = $1`, user.StreamID())
	require.NoError(t, err)
	sameState(load(), foldAll())
}

func TestSecretsLoadFromSnapshotsAndKeepTheirPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{})
	t.Cleanup(store.Close)
	svc := NewService(store, nil, logger, Options{Snapshots: storeSnapshots{store}})

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
		got, position, err := loadLatestAt(ctx, svc, sec.StreamID(), domain.LoadSecret, domain.RestoreSecret)
		require.NoError(t, err)
		require.Equal(t, wantPosition, position)
		events, err := svc.readStream(ctx, sec.StreamID(), 0)
		require.NoError(t, err)
		want, err := domain.LoadSecret(events)
		require.NoError(t, err)
		require.Equal(t, want.CurrentVersion(), got.CurrentVersion())
		require.Equal(t, want.LiveVersions(), got.LiveVersions())
	}

	rotate(3 * snapshotEvery) // folds everything once, then stores a snapshot
	check(last)
	_, ok, err := store.LoadSnapshot(ctx, sec.StreamID())
	require.NoError(t, err)
	require.True(t, ok)
	check(0) // from the snapshot, with no event after it: the position is unknown here

	// The secrets handler turns "unknown" into the head of the log, which is
	// at or past the secret's last event.
	other, err := store.Append(ctx, "other-"+domain.NewID(), domain.ExpectNoStream, domain.NewEvent{
		ID: domain.NewID(), Type: "Other", SchemaVersion: 1, Data: []byte(`{}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.NoError(t, err)
	s := &Secrets{svc: svc}
	loaded, err := s.load(ctx, sec.ID())
	require.NoError(t, err)
	require.Equal(t, other.LastPosition, loaded.position)

	rotate(2)
	check(last) // snapshot plus two events
}
