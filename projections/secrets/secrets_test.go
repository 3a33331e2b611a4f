package secrets_test

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
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/secrets"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// appendSecret writes an aggregate's changes with the given actor.
func appendSecret(t *testing.T, store *eventstore.Store, s *domain.Secret, actor string) int64 {
	t.Helper()
	res, err := store.AppendStreams(context.Background(), s.StreamAppend(domain.Metadata{Actor: actor}))
	require.NoError(t, err)
	s.Committed()
	return res.LastPosition
}

func TestProjectionFollowsAndRebuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discard(), eventstore.Options{})
	t.Cleanup(store.Close)

	a, err := domain.NewSecret(domain.NewID(), "svc/a", "first", []string{"env:prod"})
	require.NoError(t, err)
	_, err = a.AddVersion(1, []byte("sealed-1"), "local", false, 2)
	require.NoError(t, err)
	appendSecret(t, store, a, "alice")
	for v := int64(2); v <= 3; v++ {
		_, err = a.AddVersion(v, []byte("sealed"), "local", v == 3, 2)
		require.NoError(t, err)
		appendSecret(t, store, a, "bob")
	}
	require.NoError(t, a.UpdateMetadata("second", []string{"env:dev", "team:x"}))
	appendSecret(t, store, a, "bob")

	b, err := domain.NewSecret(domain.NewID(), "svc/b", "", nil)
	require.NoError(t, err)
	_, err = b.AddVersion(1, []byte("sealed"), "local", false, 10)
	require.NoError(t, err)
	require.NoError(t, b.Delete())
	head := appendSecret(t, store, b, "carol")

	runner, err := projections.NewRunner(db.AppPool, store, nil, discard(), projections.Options{PollInterval: 20 * time.Millisecond}, secrets.New())
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	waiter := projections.NewWaiter(db.AppPool, nil, 20*time.Millisecond)
	require.NoError(t, waiter.WaitFor(ctx, head, time.Minute, secrets.Name))

	q := secrets.NewQuery(db.AppPool)
	check := func(t *testing.T) {
		got, err := q.Get(ctx, a.ID())
		require.NoError(t, err)
		require.Equal(t, "svc/a", got.Name)
		require.Equal(t, "second", got.Description)
		require.Equal(t, []string{"env:dev", "team:x"}, got.Tags)
		require.Equal(t, int64(3), got.CurrentVersion)
		require.Equal(t, int64(2), got.VersionCount)
		require.Equal(t, domain.SecretStateActive, got.State)
		require.Equal(t, "alice", got.CreatedBy)
		require.Equal(t, "bob", got.UpdatedBy)

		versions, err := q.Versions(ctx, a.ID())
		require.NoError(t, err)
		require.Len(t, versions, 3)
		require.Equal(t, domain.SecretVersionStateDestroyed, versions[0].State)
		require.Equal(t, domain.DestroyRetention, versions[0].DestroyReason)
		require.Equal(t, "bob", versions[0].DestroyedBy)
		require.True(t, versions[2].Generated)

		deleted, err := q.Get(ctx, b.ID())
		require.NoError(t, err)
		require.Equal(t, domain.SecretStateDeleted, deleted.State)

		cases := []struct {
			name string
			f    domain.SecretFilter
			want []string
		}{
			{"active only", domain.SecretFilter{}, []string{"svc/a"}},
			{"with deleted", domain.SecretFilter{IncludeDeleted: true}, []string{"svc/a", "svc/b"}},
			{"tag", domain.SecretFilter{Tag: "team:x", IncludeDeleted: true}, []string{"svc/a"}},
			{"old tag is gone", domain.SecretFilter{Tag: "env:prod"}, []string{}},
			{"prefix", domain.SecretFilter{Prefix: "svc/b", IncludeDeleted: true}, []string{"svc/b"}},
			{"after", domain.SecretFilter{After: "svc/a", IncludeDeleted: true}, []string{"svc/b"}},
			{"limit", domain.SecretFilter{Limit: 1, IncludeDeleted: true}, []string{"svc/a"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rows, err := q.List(ctx, tc.f)
				require.NoError(t, err)
				names := []string{}
				for _, r := range rows {
					names = append(names, r.Name)
				}
				require.Equal(t, tc.want, names)
			})
		}

		_, err = q.Get(ctx, domain.NewID())
		require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	}
	t.Run("incremental", check)

	require.NoError(t, runner.Rebuild(ctx, secrets.Name, nil))
	t.Run("after rebuild", check)
}
