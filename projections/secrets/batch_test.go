package secrets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgtrace"
	"github.com/securevault/vault/projections/secrets"
)

// TestOnePageEqualsOneEventAtATime: applying a log as one page (versions
// batched) gives exactly the rows that applying it one event per page
// gives, for a log that mixes every secret event on several secrets in the
// same page — versions added and destroyed by retention and by hand,
// metadata after and before rotations, delete and restore between them —
// and a page of rotations costs the same statements whatever its size.
func TestOnePageEqualsOneEventAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discard(), eventstore.Options{})
	t.Cleanup(store.Close)

	actors := []string{"alice", "bob", "carol"}
	var secretsMade []*domain.Secret
	for i := range 3 {
		s, err := domain.NewSecret(domain.NewID(), fmt.Sprintf("batch/s%d", i), "", []string{"t"})
		require.NoError(t, err)
		secretsMade = append(secretsMade, s)
	}
	step := 0
	commit := func(s *domain.Secret) {
		appendSecret(t, store, s, actors[step%len(actors)])
		step++
	}
	for round := range 6 {
		for i, s := range secretsMade {
			_, err := s.AddVersion(s.NextVersion(), []byte("sealed"), "local", round%2 == 0, 3)
			require.NoError(t, err)
			commit(s)
			switch (round + i) % 4 {
			case 1:
				require.NoError(t, s.UpdateMetadata(fmt.Sprintf("round %d", round), []string{fmt.Sprintf("r%d", round)}))
				commit(s)
			case 2:
				if err := s.DestroyVersion(s.LiveVersions()[0]); err == nil {
					commit(s)
				}
			case 3:
				require.NoError(t, s.Delete())
				commit(s)
				require.NoError(t, s.Restore())
				commit(s)
			}
		}
	}
	require.NoError(t, secretsMade[2].Delete())
	commit(secretsMade[2])

	events, err := store.ReadAll(ctx, 0, 10_000)
	require.NoError(t, err)
	projection := secrets.New()

	apply := func(t *testing.T, pool *pgxpool.Pool, pages [][]domain.RecordedEvent) {
		t.Helper()
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return projection.Reset(ctx, tx) }))
		for _, page := range pages {
			require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return projection.Apply(ctx, tx, page) }))
		}
	}
	dump := func(t *testing.T) string {
		t.Helper()
		var out string
		require.NoError(t, db.Pool.QueryRow(ctx, `
			SELECT (SELECT coalesce(json_agg(s ORDER BY s.id), '[]') FROM secrets s)::text || '|' ||
			       (SELECT coalesce(json_agg(v ORDER BY v.secret_id, v.version), '[]') FROM secret_versions v)::text`).Scan(&out))
		return out
	}

	var single [][]domain.RecordedEvent
	for _, ev := range events {
		single = append(single, []domain.RecordedEvent{ev})
	}
	apply(t, db.AppPool, single)
	want := dump(t)
	apply(t, db.AppPool, [][]domain.RecordedEvent{events})
	require.Equal(t, want, dump(t), "one page must give the rows of one event per page")
	require.Contains(t, want, `"destroy_reason":"manual"`)
	require.Contains(t, want, `"destroy_reason":"retention"`)
	// And both are what the aggregates say, not merely equal to each other.
	q := secrets.NewQuery(db.AppPool)
	for _, s := range secretsMade {
		row, err := q.Get(ctx, s.ID())
		require.NoError(t, err)
		require.Equal(t, s.CurrentVersion(), row.CurrentVersion, s.Name())
		require.Equal(t, int64(len(s.LiveVersions())), row.VersionCount, s.Name())
		require.Equal(t, s.Deleted(), row.State == domain.SecretStateDeleted, s.Name())
		versions, err := q.Versions(ctx, s.ID())
		require.NoError(t, err)
		var live []int64
		for _, v := range versions {
			if v.State == domain.SecretVersionStateActive {
				live = append(live, v.Version)
			}
		}
		require.Equal(t, s.LiveVersions(), live, s.Name())
	}
	// A page applied twice (a replay) changes nothing.
	require.NoError(t, pgx.BeginFunc(ctx, db.AppPool, func(tx pgx.Tx) error { return projection.Apply(ctx, tx, events) }))
	require.Equal(t, want, dump(t), "a replayed page must change nothing")

	// Statements of a page of rotations: the same for 4 and for 40.
	counter := &pgtrace.Counter{}
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.ConnConfig.Tracer = counter
	traced, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(traced.Close)
	rotations := func(n int) int64 {
		s := secretsMade[0]
		before, err := store.HeadPosition(ctx)
		require.NoError(t, err)
		for range n {
			_, err := s.AddVersion(s.NextVersion(), []byte("sealed"), "local", false, 3)
			require.NoError(t, err)
			commit(s)
		}
		page, err := store.ReadAll(ctx, before, 10_000)
		require.NoError(t, err)
		start := counter.Count()
		require.NoError(t, pgx.BeginFunc(ctx, traced, func(tx pgx.Tx) error { return projection.Apply(ctx, tx, page) }))
		return counter.Count() - start
	}
	small, large := rotations(4), rotations(40)
	require.Equal(t, small, large, "a page of 40 rotations must cost what a page of 4 costs")
	require.LessOrEqual(t, large, int64(3), "BEGIN, the page's versions, COMMIT")
}
