package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

const hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// committer mimics the event store for one stream: it turns an aggregate's
// pending changes into recorded events and marks them committed.
type committer struct {
	events []domain.RecordedEvent
}

type pending interface {
	StreamID() string
	Changes() []domain.NewEvent
	Committed()
}

func (c *committer) commit(agg pending) {
	for _, ch := range agg.Changes() {
		c.events = append(c.events, domain.RecordedEvent{
			Position: int64(len(c.events) + 1), StreamID: agg.StreamID(), Version: int64(len(c.events) + 1),
			ID: ch.ID, Type: ch.Type, SchemaVersion: ch.SchemaVersion, Data: ch.Data, RecordedAt: time.Now(),
		})
	}
	agg.Committed()
}

func (c *committer) types() []string {
	out := make([]string, len(c.events))
	for i, e := range c.events {
		out[i] = e.Type
	}
	return out
}

func TestNormalizeUsername(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Alice.Smith-2_x", "alice.smith-2_x", true},
		{"abc", "abc", true},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{"ab", "", false},
		{strings.Repeat("a", 65), "", false},
		{"al ice", "", false},
		{"alice/bob", "", false},
		{"alïce", "", false},
		{"alice*", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := domain.NormalizeUsername(tc.in)
			if !tc.ok {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	require.Equal(t, "username-alice", domain.UsernameReservationStream("ALICE"))
}

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	def := domain.DefaultPasswordPolicy()
	cases := []struct {
		name     string
		policy   domain.PasswordPolicy
		username string
		password string
		wantMsg  string // empty: accepted
	}{
		{"long enough", def, "alice", "correct horse battery", ""},
		{"exactly the minimum", def, "alice", "123456789012", ""},
		{"unicode counts characters", def, "alice", "ééééééééééé", "at least 12"},
		{"too short", def, "alice", "short", "at least 12"},
		{"too long", def, "alice", strings.Repeat("x", 1025), "at most 1024"},
		{"is the username", domain.PasswordPolicy{MinLength: 3}, "alice", "alice", "must not contain the username"},
		{"contains the username in another case", def, "alice", "xxALICExx-strong", "must not contain the username"},
		{"configurable minimum", domain.PasswordPolicy{MinLength: 20}, "bob", "only-sixteen-chr", "at least 20"},
		{"invalid utf-8", def, "alice", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4", "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(tc.username, tc.password)
			if tc.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(err))
			require.Contains(t, domain.ErrorMessage(err), tc.wantMsg)
			require.NotContains(t, err.Error(), tc.password, "the message never quotes the password")
		})
	}
}

func TestNewUserValidates(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	cases := []struct {
		name                   string
		id, user, email, phash string
		code                   string
	}{
		{"valid", id, "Alice", "alice@example.com", hash, ""},
		{"no email", id, "alice", "", hash, ""},
		{"bad id", "123", "alice", "", hash, domain.EINVALID},
		{"bad username", id, "a", "", hash, domain.EINVALID},
		{"bad email", id, "alice", "not-an-email", hash, domain.EINVALID},
		{"email with display name", id, "alice", "Alice <alice@example.com>", hash, domain.EINVALID},
		{"empty hash", id, "alice", "", "", domain.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := domain.NewUser(tc.id, tc.user, tc.email, tc.phash)
			if tc.code != "" {
				require.Equal(t, tc.code, domain.ErrorCode(err))
				require.Nil(t, u)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "alice", u.Username())
			require.Equal(t, "user-"+id, u.StreamID())
			require.Equal(t, domain.ExpectNoStream, u.Expected())
		})
	}
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	var log committer
	id := domain.NewID()
	u, err := domain.NewUser(id, "alice", "alice@example.com", hash)
	require.NoError(t, err)
	log.commit(u)

	role1, role2 := domain.NewID(), domain.NewID()
	require.NoError(t, u.UpdateEmail("alice@example.org"))
	require.NoError(t, u.UpdateEmail("alice@example.org"), "an unchanged email records nothing")
	require.NoError(t, u.AssignRoles([]string{role2, role1, role2}))
	require.NoError(t, u.ChangePassword(hash+"x"))
	require.NoError(t, u.Disable())
	require.NoError(t, u.Disable(), "disabling twice records nothing")
	require.NoError(t, u.Enable())
	require.Equal(t, domain.ExpectVersion(1), u.Expected())
	log.commit(u)
	require.Equal(t, []string{
		domain.EventUserCreated, domain.EventUserUpdated, domain.EventUserRolesAssigned,
		domain.EventUserPasswordChanged, domain.EventUserDisabled, domain.EventUserEnabled,
	}, log.types())

	loaded, err := domain.LoadUser(log.events)
	require.NoError(t, err)
	require.Equal(t, id, loaded.ID())
	require.Equal(t, "alice@example.org", loaded.Email())
	require.Equal(t, hash+"x", loaded.PasswordHash())
	wantRoles := []string{role1, role2}
	if role2 < role1 {
		wantRoles = []string{role2, role1}
	}
	require.Equal(t, wantRoles, loaded.RoleIDs())
	require.False(t, loaded.Disabled())
	require.Equal(t, domain.ExpectVersion(6), loaded.Expected())

	t.Run("invalid role ids are refused", func(t *testing.T) {
		require.Equal(t, domain.EINVALID, domain.ErrorCode(loaded.AssignRoles([]string{"admin"})))
	})

	require.NoError(t, loaded.Delete())
	log.commit(loaded)
	deleted, err := domain.LoadUser(log.events)
	require.NoError(t, err)
	require.True(t, deleted.Deleted())
	for name, op := range map[string]func() error{
		"update":   func() error { return deleted.UpdateEmail("x@example.com") },
		"password": func() error { return deleted.ChangePassword(hash) },
		"roles":    func() error { return deleted.AssignRoles(nil) },
		"disable":  deleted.Disable,
		"delete":   deleted.Delete,
		"login":    func() error { return deleted.RecordLoginSucceeded(domain.NewID(), time.Now()) },
	} {
		t.Run("deleted user refuses "+name, func(t *testing.T) {
			require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(op()))
		})
	}

	_, err = domain.LoadUser(nil)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
}

func TestLoginLockoutGrows(t *testing.T) {
	t.Parallel()
	u, err := domain.NewUser(domain.NewID(), "bob", "", hash)
	require.NoError(t, err)
	policy := domain.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: 10 * time.Minute}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	cases := []struct {
		failures int
		lockFor  time.Duration
	}{
		{1, 0}, {2, 0}, {3, time.Minute}, {4, 2 * time.Minute}, {5, 4 * time.Minute}, {6, 8 * time.Minute}, {7, 10 * time.Minute}, {20, 10 * time.Minute},
	}
	n := 0
	for _, tc := range cases {
		var at time.Time
		for n < tc.failures {
			n++
			at = t0.Add(time.Duration(n) * time.Second)
			require.NoError(t, u.RecordLoginFailed(domain.LoginFailBadPassword, at))
		}
		require.Equal(t, tc.failures, u.FailedLogins())
		if tc.lockFor == 0 {
			require.True(t, u.LockedUntil(policy).IsZero(), "failures=%d", tc.failures)
		} else {
			require.Equal(t, at.Add(tc.lockFor), u.LockedUntil(policy), "failures=%d", tc.failures)
		}
	}

	require.NoError(t, u.RecordLoginSucceeded(domain.NewID(), t0.Add(time.Hour)))
	require.Zero(t, u.FailedLogins())
	require.True(t, u.LockedUntil(policy).IsZero())

	require.Equal(t, domain.EINVALID, domain.ErrorCode(u.RecordLoginFailed("hunter2", t0)), "reasons are a closed set, so no password can slip in")
	for _, ch := range u.Changes() {
		if ch.Type == domain.EventLoginFailed {
			var payload map[string]any
			require.NoError(t, json.Unmarshal(ch.Data, &payload))
			require.ElementsMatch(t, []string{"reason", "at"}, keys(payload))
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestUserSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	var log committer
	u, err := domain.NewUser(domain.NewID(), "carol", "carol@example.com", hash)
	require.NoError(t, err)
	require.NoError(t, u.AssignRoles([]string{domain.AdminRoleID}))
	log.commit(u)
	snap, version, err := u.Snapshot()
	require.NoError(t, err)
	require.Equal(t, int64(2), version)
	require.NotContains(t, string(snap), "password\":\"", "sanity: only the hash field is stored")

	require.NoError(t, u.Disable())
	log.commit(u)
	restored, err := domain.RestoreUser(snap, version, log.events[version:])
	require.NoError(t, err)
	full, err := domain.LoadUser(log.events)
	require.NoError(t, err)
	require.Equal(t, full, restored)
}

func TestPasswordHashNeverLeavesPostgres(t *testing.T) {
	t.Parallel()
	u, err := domain.NewUser(domain.NewID(), "dave", "", hash)
	require.NoError(t, err)
	require.NoError(t, u.ChangePassword(hash+"y"))
	for _, ch := range u.Changes() {
		require.Contains(t, string(ch.Data), "argon2id", "the log keeps the hash")
		out, err := domain.RedactForBus(ch.Data)
		require.NoError(t, err)
		require.NotContains(t, string(out), "argon2id", "the bus never sees it: %s", ch.Type)
	}
}

func TestReservationClaimsANameOnce(t *testing.T) {
	t.Parallel()
	for _, stream := range []string{
		domain.UsernameReservationStream("Erin"),
		domain.RoleNameReservationStream("Readers"),
		domain.PolicyNameReservationStream("Prod-Read"),
	} {
		t.Run(stream, func(t *testing.T) {
			var log committer
			owner, other := domain.NewID(), domain.NewID()
			r, err := domain.LoadReservation(stream, nil)
			require.NoError(t, err)
			require.Equal(t, "", r.Owner())
			require.NoError(t, r.Reserve(owner))
			require.Equal(t, domain.ExpectNoStream, r.Expected(), "the first claim appends with no stream")
			log.commit(r)

			r, err = domain.LoadReservation(stream, log.events)
			require.NoError(t, err)
			require.Equal(t, owner, r.Owner())
			require.NoError(t, r.Reserve(owner), "re-reserving for the holder is a no-op")
			require.Empty(t, r.Changes())
			require.Equal(t, domain.ECONFLICT, domain.ErrorCode(r.Reserve(other)))
			require.Equal(t, domain.ECONFLICT, domain.ErrorCode(r.Release(other)))

			require.NoError(t, r.Release(owner))
			log.commit(r)
			r, err = domain.LoadReservation(stream, log.events)
			require.NoError(t, err)
			require.NoError(t, r.Reserve(other), "a released name can be claimed again")
			require.Equal(t, domain.ExpectVersion(2), r.Expected())
		})
	}
	_, err := domain.LoadReservation("user-abc", nil)
	require.Error(t, err)
}

func TestSessionRotationAndReuse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(7 * 24 * time.Hour)
	start := func(t *testing.T) (*domain.Session, *committer, string) {
		var log committer
		jti := domain.NewID()
		s, err := domain.StartSession(domain.NewID(), domain.NewID(), jti, exp)
		require.NoError(t, err)
		log.commit(s)
		return s, &log, jti
	}

	t.Run("rotation makes only the new token valid", func(t *testing.T) {
		s, log, first := start(t)
		second := domain.NewID()
		require.NoError(t, s.Refresh(first, second, exp.Add(time.Hour), now))
		log.commit(s)
		loaded, err := domain.LoadSession(log.events)
		require.NoError(t, err)
		require.Equal(t, second, loaded.RefreshTokenID())
		require.True(t, loaded.Active(now))
		require.Equal(t, domain.ExpectVersion(2), loaded.Expected())
	})

	t.Run("a spent token revokes the session", func(t *testing.T) {
		s, log, first := start(t)
		require.NoError(t, s.Refresh(first, domain.NewID(), exp, now))
		log.commit(s)
		err := s.Refresh(first, domain.NewID(), exp, now)
		require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
		require.True(t, s.ReuseDetected())
		require.Len(t, s.Changes(), 1, "the reuse event is pending for the caller to append")
		log.commit(s)
		loaded, err := domain.LoadSession(log.events)
		require.NoError(t, err)
		require.True(t, loaded.Revoked())
		require.False(t, loaded.Active(now))
		require.Equal(t, []string{domain.EventSessionStarted, domain.EventSessionRefreshed, domain.EventRefreshReuseDetected}, log.types())
		require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(loaded.Refresh(loaded.RefreshTokenID(), domain.NewID(), exp, now)),
			"even the current token is dead after reuse")
	})

	t.Run("logout revokes", func(t *testing.T) {
		s, log, first := start(t)
		require.NoError(t, s.Revoke(domain.RevokeLogout))
		require.NoError(t, s.Revoke(domain.RevokeLogout), "revoking twice records nothing")
		log.commit(s)
		require.Len(t, log.events, 2)
		require.False(t, s.Active(now))
		require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(s.Refresh(first, domain.NewID(), exp, now)))
		require.Empty(t, s.Changes())
	})

	t.Run("an expired session cannot refresh", func(t *testing.T) {
		s, _, first := start(t)
		require.False(t, s.Active(exp))
		require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(s.Refresh(first, domain.NewID(), exp.Add(time.Hour), exp)))
		require.Empty(t, s.Changes())
	})

	t.Run("snapshot round trip", func(t *testing.T) {
		s, log, first := start(t)
		snap, v, err := s.Snapshot()
		require.NoError(t, err)
		require.NoError(t, s.Refresh(first, domain.NewID(), exp, now))
		log.commit(s)
		restored, err := domain.RestoreSession(snap, v, log.events[v:])
		require.NoError(t, err)
		full, err := domain.LoadSession(log.events)
		require.NoError(t, err)
		require.Equal(t, full, restored)
	})
}
