package fold

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/integrity"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/tamper"
)

// countingLog counts the reads a view makes of the log.
type countingLog struct {
	LogPages
	reads atomic.Int64
}

func (c *countingLog) ReadAll(ctx context.Context, after int64, limit int) ([]domain.RecordedEvent, error) {
	c.reads.Add(1)
	return c.LogPages.ReadAll(ctx, after, limit)
}

type identityFixture struct {
	ctx    context.Context
	t      *testing.T
	store  *eventstore.Store
	loader *Loader
	md     domain.Metadata
}

func (f identityFixture) append(aggs ...interface {
	StreamAppend(domain.Metadata) domain.StreamAppend
	Committed()
}) {
	f.t.Helper()
	appends := make([]domain.StreamAppend, 0, len(aggs))
	for _, a := range aggs {
		appends = append(appends, a.StreamAppend(f.md))
	}
	_, err := f.store.AppendStreams(f.ctx, appends...)
	require.NoError(f.t, err)
	for _, a := range aggs {
		a.Committed()
	}
}

// TestViewAnswersAsOfTheHeadWhenAsked: with nothing following the log in
// the background, every Read sees each change committed before it (a new
// session, a revocation, a disable, a policy edit, a role losing its
// policy) and agrees with folding the same streams from the log.
func TestViewAnswersAsOfTheHeadWhenAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store, logger := newTestStore(t)
	f := identityFixture{ctx: ctx, t: t, store: store, loader: NewLoader(store, store, logger), md: domain.Metadata{Actor: domain.SystemActor}}
	log := &countingLog{LogPages: store}
	view := NewView(log, nil, logger, IdentityKinds()...)

	read := func(fn func(State)) {
		t.Helper()
		require.NoError(t, view.Read(ctx, func(s State) error { fn(s); return nil }))
	}
	agrees := func(roleIDs []string) {
		t.Helper()
		want, err := f.loader.PoliciesFor(ctx, roleIDs, 0)
		require.NoError(t, err)
		read(func(s State) {
			got, err := s.PoliciesFor(roleIDs)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}

	policy, err := domain.NewPolicy(domain.NewID(), "readers", "", []domain.Statement{{Effect: domain.EffectAllow, Actions: []string{"read"}, Resources: []string{"secrets/**"}}})
	require.NoError(t, err)
	role, err := domain.NewRole(domain.NewID(), "reader", "", []string{policy.ID()})
	require.NoError(t, err)
	user, err := domain.NewUser(domain.NewID(), "alice", "", domain.SealedPassword{Version: 1, Sealed: []byte("sealed-hash")})
	require.NoError(t, err)
	require.NoError(t, user.AssignRoles([]string{role.ID()}))
	session, err := domain.StartSession(domain.NewID(), user.ID(), domain.NewID(), time.Now().Add(time.Hour))
	require.NoError(t, err)
	f.append(policy, role, user, session)

	read(func(s State) {
		sess, ok, err := s.Session(session.ID())
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, sess.Active(time.Now()))
		u, ok, err := s.User(user.ID())
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, u.Disabled())
		require.Equal(t, []string{role.ID()}, u.RoleIDs())
	})
	agrees([]string{role.ID()})

	require.NoError(t, policy.Update("readers", "", []domain.Statement{{Effect: domain.EffectDeny, Actions: []string{"read"}, Resources: []string{"secrets/**"}}}))
	f.append(policy)
	agrees([]string{role.ID()})

	require.NoError(t, role.Update("reader", "", nil))
	f.append(role)
	agrees([]string{role.ID()})

	require.NoError(t, user.Disable())
	f.append(user)
	read(func(s State) {
		u, ok, err := s.User(user.ID())
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, u.Disabled())
	})

	require.NoError(t, session.Revoke(domain.RevokeLogout))
	f.append(session)
	read(func(s State) {
		_, ok, err := s.Session(session.ID())
		require.NoError(t, err)
		require.False(t, ok, "a revoked session is let go")
	})

	require.NoError(t, user.Delete())
	f.append(user)
	read(func(s State) {
		_, ok, err := s.User(user.ID())
		require.NoError(t, err)
		require.False(t, ok, "a deleted user is not found")
	})

	head, err := store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, head, view.Position())

	// Concurrent readers share rounds: far fewer reads of the log than
	// requests (each round reads one page when the view is at the head).
	before := log.reads.Load()
	const readers = 64
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() { _ = view.Read(ctx, func(State) error { return nil }) })
	}
	wg.Wait()
	reads := log.reads.Load() - before
	require.Positive(t, reads)
	require.LessOrEqual(t, reads, int64(readers))
	t.Logf("%d concurrent reads took %d reads of the log", readers, reads)
}

// TestViewRefusesALogThatFailsItsIntegrityCheck: an event forged after the
// view's position (its link recomputed without the chain key) is never
// folded in; the read trips the latch and the view refuses every later
// read.
func TestViewRefusesALogThatFailsItsIntegrityCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	latch := integrity.NewLatch(logger, nil)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), logger, eventstore.Options{Alarm: latch})
	t.Cleanup(store.Close)
	f := identityFixture{ctx: ctx, t: t, store: store, md: domain.Metadata{Actor: domain.SystemActor}}
	view := NewView(store, latch, logger, IdentityKinds()...)

	user, err := domain.NewUser(domain.NewID(), "bob", "", domain.SealedPassword{Version: 1, Sealed: []byte("sealed-hash")})
	require.NoError(t, err)
	f.append(user)
	require.NoError(t, view.Read(ctx, func(State) error { return nil }))

	require.NoError(t, user.Disable())
	f.append(user)
	head, err := store.HeadPosition(ctx)
	require.NoError(t, err)
	tamper.Rechain(t, db.Superuser(t), head, func(data string) string {
		if strings.TrimSpace(data) == "{}" {
			return `{"forged":true}`
		}
		return strings.Replace(data, "{", `{"forged":true,`, 1)
	})

	for range 2 {
		err = view.Read(ctx, func(State) error {
			t.Fatal("a view over a forged log answered")
			return nil
		})
		require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "%v", err)
	}
	require.True(t, latch.Tripped())
	require.Less(t, view.Position(), head, "the forged event was never applied")
}

// TestViewKnowsTheLastEventOfStreamsItOnlyFollows: a PositionsOf kind is
// not folded, but after a Read the view tells the position of each of its
// streams' last event — the proof a reader of a secret's row held in
// memory relies on — and refuses to tell as of a position it has not
// reached.
func TestViewKnowsTheLastEventOfStreamsItOnlyFollows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store, logger := newTestStore(t)
	f := identityFixture{ctx: ctx, t: t, store: store, md: domain.Metadata{Actor: domain.SystemActor}}
	view := NewView(store, nil, logger, append(IdentityKinds(), PositionsOf(domain.SecretAggregate))...)

	readPosition := func() int64 {
		t.Helper()
		var at int64
		require.NoError(t, view.Read(ctx, func(s State) error { at = s.Position(); return nil }))
		return at
	}
	a, err := domain.NewSecret(domain.NewID(), "app/a", "", nil)
	require.NoError(t, err)
	b, err := domain.NewSecret(domain.NewID(), "app/b", "", nil)
	require.NoError(t, err)
	f.append(a, b)
	at := readPosition()
	lastA, ok := view.LastEventOf(a.StreamID(), at)
	require.True(t, ok)
	lastB, ok := view.LastEventOf(b.StreamID(), at)
	require.True(t, ok)
	require.Equal(t, at, max(lastA, lastB), "the append's last event is one of the two")
	require.NotZero(t, min(lastA, lastB))

	_, ok = view.LastEventOf(a.StreamID(), at+1)
	require.False(t, ok, "no answer as of a position the view has not reached")

	_, err = a.AddVersion(1, []byte("sealed"), "local", false, 10)
	require.NoError(t, err)
	f.append(a)
	after := readPosition()
	require.Greater(t, after, at)
	moved, ok := view.LastEventOf(a.StreamID(), after)
	require.True(t, ok)
	require.Equal(t, after, moved, "a's new event is its last")
	still, ok := view.LastEventOf(b.StreamID(), after)
	require.True(t, ok)
	require.Equal(t, lastB, still, "b did not move")
	none, ok := view.LastEventOf(domain.StreamID(domain.SecretAggregate, domain.NewID()), after)
	require.True(t, ok)
	require.Zero(t, none, "a stream with no events")

	view.mu.RLock()
	_, held := view.held[a.StreamID()]
	view.mu.RUnlock()
	require.False(t, held, "a stream it only follows is not folded")
}
