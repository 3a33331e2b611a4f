package queries_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/internal/vaulttest"
)

// identityAdmin may administer every user and role.
func identityAdmin() domain.Caller { return caller(allow("**", "*")) }

// testPassword stands in for a sealed password hash: time travel never opens it.
var testPasswordHash = domain.SealedPassword{Version: 1, Sealed: []byte("sealed-hash-stand-in")}

// A user who logs in far more often than anyone changes the profile, and a
// role edited many times: as of every instant, the snapshotted reads answer
// what folding each whole prefix answers, including who last changed the
// user (logins are not changes), after the snapshots are stored and after
// they are corrupted.
func TestIdentityAtEqualsTheFullFold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistoryEnv(t)
	rng := rand.New(rand.NewPCG(3, 4))
	actors := []domain.Metadata{{Actor: domain.NewID()}, {Actor: domain.NewID()}, {}}

	user, err := domain.NewUser(domain.NewID(), "often", "", testPasswordHash)
	require.NoError(t, err)
	role, err := domain.NewRole(domain.NewID(), "edited", "", nil)
	require.NoError(t, err)
	for i := range 1000 {
		switch r := rng.IntN(20); {
		case r < 14:
			require.NoError(t, user.RecordLoginSucceeded(domain.NewID(), "203.0.113.7", time.Now()))
		case r < 15:
			require.NoError(t, user.RecordLoginFailed(domain.LoginFailBadPassword, "203.0.113.7", time.Now()))
		case r < 16:
			require.NoError(t, user.UpdateEmail(fmt.Sprintf("u%d@example.com", i)))
		case r < 17:
			require.NoError(t, user.AssignRoles([]string{role.ID()}[:rng.IntN(2)]))
		case r < 18:
			if user.Disabled() {
				require.NoError(t, user.Enable())
			} else {
				require.NoError(t, user.Disable())
			}
		default:
			require.NoError(t, role.Update(fmt.Sprintf("edited-%d", i), fmt.Sprintf("edit %d", i), nil))
		}
		md := actors[rng.IntN(len(actors))]
		var appends []domain.StreamAppend
		for _, agg := range []interface {
			Changes() []domain.NewEvent
			StreamAppend(domain.Metadata) domain.StreamAppend
		}{user, role} {
			if len(agg.Changes()) > 0 {
				appends = append(appends, agg.StreamAppend(md))
			}
		}
		// Some appends carry several changes of both streams.
		if len(appends) > 0 && (rng.IntN(3) == 0 || i == 999) {
			_, err := e.store.AppendStreams(ctx, appends...)
			require.NoError(t, err)
			user.Committed()
			role.Committed()
		}
	}
	userEvents, err := e.store.ReadStream(ctx, user.StreamID(), 0, 0)
	require.NoError(t, err)
	roleEvents, err := e.store.ReadStream(ctx, role.StreamID(), 0, 0)
	require.NoError(t, err)
	require.Greater(t, len(userEvents), 4*fold.SnapshotEvery)
	require.Greater(t, len(roleEvents), fold.SnapshotEvery)
	head, err := e.store.HeadPosition(ctx)
	require.NoError(t, err)

	actor := func(md domain.Metadata) string {
		if md.Actor == "" {
			return domain.SystemActor
		}
		return md.Actor
	}
	wantUser := func(pos int64) (domain.UserSummary, bool) {
		events := domain.EventsUpTo(userEvents, pos)
		if len(events) == 0 {
			return domain.UserSummary{}, false
		}
		u, err := domain.LoadUser(events)
		require.NoError(t, err)
		changed := events[0]
		for _, ev := range events {
			switch ev.Type {
			case domain.EventUserCreated, domain.EventUserUpdated, domain.EventUserRolesAssigned,
				domain.EventUserDisabled, domain.EventUserEnabled, domain.EventUserPasswordChanged:
				changed = ev
			}
		}
		roles := u.RoleIDs()
		if roles == nil {
			roles = []string{}
		}
		return domain.UserSummary{
			ID: u.ID(), Username: u.Username(), Email: u.Email(), Roles: roles, Disabled: u.Disabled(),
			CreatedAt: events[0].RecordedAt, CreatedBy: actor(events[0].Metadata),
			UpdatedAt: changed.RecordedAt, UpdatedBy: actor(changed.Metadata),
		}, true
	}
	wantRole := func(pos int64) (domain.RoleSummary, bool) {
		events := domain.EventsUpTo(roleEvents, pos)
		if len(events) == 0 {
			return domain.RoleSummary{}, false
		}
		r, err := domain.LoadRole(events)
		require.NoError(t, err)
		policies := r.PolicyIDs()
		if policies == nil {
			policies = []string{}
		}
		first, last := events[0], events[len(events)-1]
		return domain.RoleSummary{
			ID: r.ID(), Name: r.Name(), Description: r.Description(), Policies: policies,
			CreatedAt: first.RecordedAt, CreatedBy: actor(first.Metadata), UpdatedAt: last.RecordedAt, UpdatedBy: actor(last.Metadata),
		}, true
	}
	agree := func(t *testing.T, tt vaulttest.Reads) {
		t.Helper()
		for range 60 {
			var pos int64
			switch rng.IntN(3) {
			case 0:
				pos = userEvents[rng.IntN(len(userEvents))].Position
			case 1:
				pos = roleEvents[rng.IntN(len(roleEvents))].Position
			default:
				pos = rng.Int64N(head + 1)
			}
			want, exists := wantUser(pos)
			got, err := value(tt.Identity.GetUser(ctx, identityAdmin(), user.ID(), atPos(pos)))
			if !exists {
				require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "user at %d", pos)
			} else {
				require.NoError(t, err)
				require.Equal(t, want, got, "user at %d", pos)
			}
			wantR, exists := wantRole(pos)
			gotR, err := value(tt.Identity.GetRole(ctx, identityAdmin(), role.ID(), atPos(pos)))
			if !exists {
				require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "role at %d", pos)
			} else {
				require.NoError(t, err)
				require.Equal(t, wantR, gotR, "role at %d", pos)
			}
		}
	}
	streams := []string{user.StreamID(), role.StreamID()}
	t.Run("without snapshots", func(t *testing.T) { agree(t, e.plain) })
	t.Run("storing snapshots", func(t *testing.T) { agree(t, e.snapshots) })
	var stored int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM stream_snapshots WHERE stream_id = ANY($1)`, streams).Scan(&stored))
	require.Positive(t, stored)
	t.Run("from the snapshots stored", func(t *testing.T) { agree(t, e.snapshots) })
	_, err = e.db.Pool.Exec(ctx, `UPDATE stream_snapshots s SET state = o.state FROM stream_snapshots o
		WHERE s.stream_id = ANY($1) AND o.stream_id = s.stream_id AND o.position < s.position`, streams)
	require.NoError(t, err)
	t.Run("from snapshots of other versions", func(t *testing.T) { agree(t, e.snapshots) })
}

// TestUserAtCostsTheSnapshotGap counts the events a read of a user as of an
// instant takes from the log: with thousands of logins, and the last profile
// change long before the instant, it reads the events since the nearest
// snapshot and the two it shows (created, last changed), not the history.
func TestUserAtCostsTheSnapshotGap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistoryEnv(t)
	user, err := domain.NewUser(domain.NewID(), "busy", "", testPasswordHash)
	require.NoError(t, err)
	require.NoError(t, user.UpdateEmail("busy@example.com"))
	for range 60 {
		for range 50 {
			require.NoError(t, user.RecordLoginSucceeded(domain.NewID(), "203.0.113.7", time.Now()))
		}
		_, err := e.store.AppendStreams(ctx, user.StreamAppend(domain.Metadata{Actor: domain.SystemActor}))
		require.NoError(t, err)
		user.Committed()
	}
	events, err := e.store.ReadStream(ctx, user.StreamID(), 0, 0)
	require.NoError(t, err)
	for _, ev := range []domain.RecordedEvent{events[len(events)/2], events[len(events)-1]} {
		at := atPos(ev.Position)
		_, err := value(e.snapshots.Identity.GetUser(ctx, identityAdmin(), user.ID(), at)) // may fold and store snapshots
		require.NoError(t, err)
		before := e.log.read.Load()
		got, err := value(e.snapshots.Identity.GetUser(ctx, identityAdmin(), user.ID(), at))
		require.NoError(t, err)
		require.LessOrEqual(t, e.log.read.Load()-before, int64(fold.SnapshotEvery+2), "as of position %d", ev.Position)
		require.Equal(t, events[1].RecordedAt, got.UpdatedAt, "the last change is the e-mail update, not a login")
	}
}
