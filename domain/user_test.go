package domain_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

const hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// sealedPw stands for a hash sealed by the seal package: the domain only
// carries the bytes.
func sealedPw(version int64) domain.SealedPassword {
	return domain.SealedPassword{Version: version, Sealed: []byte(fmt.Sprintf("ciphertext-of-version-%d", version))}
}

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
		name            string
		id, user, email string
		password        domain.SealedPassword
		code            string
	}{
		{"valid", id, "Alice", "alice@example.com", sealedPw(1), ""},
		{"no email", id, "alice", "", sealedPw(1), ""},
		{"bad id", "123", "alice", "", sealedPw(1), domain.EINVALID},
		{"bad username", id, "a", "", sealedPw(1), domain.EINVALID},
		{"bad email", id, "alice", "not-an-email", sealedPw(1), domain.EINVALID},
		{"email with display name", id, "alice", "Alice <alice@example.com>", sealedPw(1), domain.EINVALID},
		{"nothing sealed", id, "alice", "", domain.SealedPassword{Version: 1}, domain.EINVALID},
		{"no version", id, "alice", "", domain.SealedPassword{Sealed: []byte("x")}, domain.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := domain.NewUser(tc.id, tc.user, tc.email, tc.password)
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
	u, err := domain.NewUser(id, "alice", "alice@example.com", sealedPw(1))
	require.NoError(t, err)
	log.commit(u)

	role1, role2 := domain.NewID(), domain.NewID()
	require.NoError(t, u.UpdateEmail("alice@example.org"))
	require.NoError(t, u.UpdateEmail("alice@example.org"), "an unchanged email records nothing")
	require.NoError(t, u.AssignRoles([]string{role2, role1, role2}))
	require.Equal(t, int64(2), u.NextPasswordVersion())
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(u.ChangePassword(sealedPw(3))), "each version is sealed under its own key")
	require.NoError(t, u.ChangePassword(sealedPw(2)))
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
	require.Equal(t, sealedPw(2), loaded.Password())
	require.Empty(t, loaded.LegacyPasswordHash())
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
		"password": func() error { return deleted.ChangePassword(sealedPw(3)) },
		"roles":    func() error { return deleted.AssignRoles(nil) },
		"disable":  deleted.Disable,
		"delete":   deleted.Delete,
		"login":    func() error { return deleted.RecordLoginSucceeded(domain.NewID(), "192.0.2.1", time.Now()) },
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
	u, err := domain.NewUser(domain.NewID(), "bob", "", sealedPw(1))
	require.NoError(t, err)
	policy := domain.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: 10 * time.Minute}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const attacker, owner = "203.0.113.9", "198.51.100.4"

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
			require.NoError(t, u.RecordLoginFailed(domain.LoginFailBadPassword, attacker, at))
		}
		require.Equal(t, tc.failures, u.Logins().Failures(attacker, at))
		if tc.lockFor == 0 {
			require.True(t, u.LockedUntil(policy, attacker, at).IsZero(), "failures=%d", tc.failures)
		} else {
			require.Equal(t, at.Add(tc.lockFor), u.LockedUntil(policy, attacker, at), "failures=%d", tc.failures)
		}
		require.True(t, u.LockedUntil(policy, owner, at).IsZero(), "another address is never locked by these")
	}

	require.NoError(t, u.RecordLoginSucceeded(domain.NewID(), attacker, t0.Add(time.Hour)))
	require.Zero(t, u.Logins().Failures(attacker, t0.Add(time.Hour)))
	require.True(t, u.LockedUntil(policy, attacker, t0.Add(time.Hour)).IsZero())

	require.Equal(t, domain.EINVALID, domain.ErrorCode(u.RecordLoginFailed("hunter2", attacker, t0)), "reasons are a closed set, so no password can slip in")
	for _, ch := range u.Changes() {
		if ch.Type == domain.EventLoginFailed {
			var payload map[string]any
			require.NoError(t, json.Unmarshal(ch.Data, &payload))
			require.ElementsMatch(t, []string{"reason", "at", "address"}, keys(payload))
		}
	}
}

func TestLoginLockoutCeilingSlowsManyAddresses(t *testing.T) {
	t.Parallel()
	u, err := domain.NewUser(domain.NewID(), "bob", "", sealedPw(1))
	require.NoError(t, err)
	policy := domain.LockoutPolicy{Threshold: 5, Base: time.Minute, Max: time.Hour, AccountThreshold: 6, AccountWindow: time.Hour}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := t0
	fail := func(addr string) {
		at = at.Add(time.Second)
		require.NoError(t, u.RecordLoginFailed(domain.LoginFailBadPassword, addr, at))
	}
	for i := range 5 {
		fail(fmt.Sprintf("203.0.113.%d", i))
	}
	require.False(t, u.Logins().AtCeiling(policy, at))
	require.True(t, u.LockedUntil(policy, "203.0.113.0", at).IsZero(), "one failure each is below the per-address threshold")
	fail("203.0.113.5")
	require.True(t, u.Logins().AtCeiling(policy, at))
	require.Equal(t, at.Add(time.Minute), u.LockedUntil(policy, "203.0.113.5", at), "past the ceiling one failure locks its address")
	require.False(t, u.LockedUntil(policy, "203.0.113.0", at).IsZero())
	require.True(t, u.LockedUntil(policy, "198.51.100.4", at).IsZero(), "an address with no failure may still try")

	later := at.Add(time.Hour + time.Second)
	require.False(t, u.Logins().AtCeiling(policy, later), "the ceiling counts only the window")
	require.True(t, u.LockedUntil(policy, "203.0.113.5", later).IsZero())

	t.Run("attempts refused while locked test no password and do not count", func(t *testing.T) {
		v, err := domain.NewUser(domain.NewID(), "carl", "", sealedPw(1))
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, v.RecordLoginFailed(domain.LoginFailLocked, "203.0.113.1", t0.Add(time.Duration(i)*time.Second)))
		}
		require.False(t, v.Logins().AtCeiling(policy, t0.Add(time.Minute)))
	})
}

func TestLoginHistoryStaysBounded(t *testing.T) {
	t.Parallel()
	var log committer
	u, err := domain.NewUser(domain.NewID(), "bob", "", sealedPw(1))
	require.NoError(t, err)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 300 {
		require.NoError(t, u.RecordLoginFailed(domain.LoginFailBadPassword, fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0.Add(time.Duration(i)*time.Second)))
	}
	log.commit(u)
	f := u.Logins()
	require.Len(t, f.Addresses, 100, "at most 100 addresses are remembered")
	require.Len(t, f.Recent, 100)
	require.Zero(t, f.Failures("10.0.0.0", t0.Add(time.Hour)), "the least recent address was forgotten first")
	require.Equal(t, 1, f.Failures("10.0.1.43", t0.Add(time.Hour)))

	// A day later everything is forgotten on the next failure.
	require.NoError(t, u.RecordLoginFailed(domain.LoginFailBadPassword, "192.0.2.1", t0.Add(25*time.Hour)))
	log.commit(u)
	require.Len(t, u.Logins().Addresses, 1)
	require.Len(t, u.Logins().Recent, 1)

	// The bounded state survives a snapshot.
	snap, version, err := u.Snapshot()
	require.NoError(t, err)
	restored, err := domain.RestoreUser(snap, version, nil)
	require.NoError(t, err)
	require.Equal(t, u.Logins(), restored.Logins())

	t.Run("a snapshot of the previous layout is not used", func(t *testing.T) {
		old := strings.Replace(string(snap), `"layout":4`, `"layout":3`, 1)
		require.NotEqual(t, string(snap), old, "the snapshot names its layout")
		_, err := domain.RestoreUser([]byte(old), version, nil)
		require.Error(t, err)
	})
	t.Run("a password change or enabling clears the history", func(t *testing.T) {
		loaded, err := domain.LoadUser(log.events)
		require.NoError(t, err)
		require.NoError(t, loaded.ChangePassword(sealedPw(2)))
		require.Empty(t, loaded.Logins().Addresses)
		require.Empty(t, loaded.Logins().Recent)
	})
}

func TestFoldLoginAttempts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var events []domain.RecordedEvent
	for i := range 4 {
		ev, err := domain.NewLoginAttemptFailed(domain.LoginFailUnknownUser, "203.0.113.7", t0.Add(time.Duration(i)*time.Second), domain.Metadata{})
		require.NoError(t, err)
		events = append(events, domain.RecordedEvent{Position: int64(i + 1), StreamID: "loginattempt-x", Version: int64(i + 1), ID: ev.ID, Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data})
	}
	// A version 1 event has no address: it counts as one unknown address.
	events = append(events, domain.RecordedEvent{Position: 5, StreamID: "loginattempt-x", Version: 5, ID: domain.NewID(),
		Type: domain.EventLoginFailed, SchemaVersion: 1, Data: json.RawMessage(`{"reason":"unknown_user","at":"2026-05-01T12:00:10Z"}`)})
	f, err := domain.FoldLoginAttempts(events)
	require.NoError(t, err)
	policy := domain.LockoutPolicy{Threshold: 4, Base: time.Minute, Max: time.Hour}
	require.Equal(t, t0.Add(3*time.Second+time.Minute), f.LockedUntil(policy, "203.0.113.7", t0.Add(11*time.Second)))
	require.True(t, f.LockedUntil(policy, "198.51.100.1", t0.Add(11*time.Second)).IsZero())
	require.Equal(t, 1, f.Failures("", t0.Add(11*time.Second)))
	_, err = domain.NewLoginAttemptFailed(domain.LoginFailBadPassword, "x", t0, domain.Metadata{})
	require.Error(t, err, "a loginattempt stream has no password to get wrong")
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
	u, err := domain.NewUser(domain.NewID(), "carol", "carol@example.com", sealedPw(1))
	require.NoError(t, err)
	require.NoError(t, u.AssignRoles([]string{domain.AdminRoleID}))
	log.commit(u)
	snap, version, err := u.Snapshot()
	require.NoError(t, err)
	require.Equal(t, int64(2), version)
	require.NotContains(t, string(snap), "argon2id", "a snapshot holds no hash")

	require.NoError(t, u.Disable())
	log.commit(u)
	restored, err := domain.RestoreUser(snap, version, log.events[version:])
	require.NoError(t, err)
	full, err := domain.LoadUser(log.events)
	require.NoError(t, err)
	require.Equal(t, full, restored)
}

func TestPasswordHashNeverEntersTheLog(t *testing.T) {
	t.Parallel()
	u, err := domain.NewUser(domain.NewID(), "dave", "", sealedPw(1))
	require.NoError(t, err)
	require.NoError(t, u.ChangePassword(sealedPw(2)))
	for _, ch := range u.Changes() {
		require.Equal(t, 2, ch.SchemaVersion, ch.Type)
		require.NotContains(t, string(ch.Data), "sealed_password_hash", "no clear hash field")
		out, err := domain.RedactForBus(ch.Data)
		require.NoError(t, err)
		require.NotContains(t, string(out), "sealed_", "the bus never sees even the sealed hash: %s", ch.Type)
	}
}

// TestLegacyPasswordHashStillLoads: events from before sealing carried the
// hash itself; they still fold (and logins verify against them) until the
// user's next password change replaces it with a sealed one.
func TestLegacyPasswordHashStillLoads(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	created, err := json.Marshal(map[string]any{"user_id": id, "username": "erin", "sealed_password_hash": hash})
	require.NoError(t, err)
	events := []domain.RecordedEvent{{Position: 1, StreamID: "user-" + id, Version: 1, ID: domain.NewID(),
		Type: domain.EventUserCreated, SchemaVersion: 1, Data: created}}
	u, err := domain.LoadUser(events)
	require.NoError(t, err)
	require.Equal(t, hash, u.LegacyPasswordHash())
	require.Equal(t, int64(1), u.NextPasswordVersion())

	changed, err := json.Marshal(map[string]any{"sealed_password_hash": hash + "x"})
	require.NoError(t, err)
	events = append(events, domain.RecordedEvent{Position: 2, StreamID: "user-" + id, Version: 2, ID: domain.NewID(),
		Type: domain.EventUserPasswordChanged, SchemaVersion: 1, Data: changed})
	u, err = domain.LoadUser(events)
	require.NoError(t, err)
	require.Equal(t, hash+"x", u.LegacyPasswordHash())

	require.NoError(t, u.ChangePassword(sealedPw(1)))
	require.Empty(t, u.LegacyPasswordHash(), "the first sealed password replaces the clear one")
	require.Equal(t, sealedPw(1), u.Password())
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
