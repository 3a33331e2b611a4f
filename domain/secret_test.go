package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestValidateSecretName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "password", true},
		{"hierarchical", "prod/db/password", true},
		{"all allowed characters", "Prod_1/db.main-2/PASS", true},
		{"max length", strings.Repeat("a", 256), true},
		{"too long", strings.Repeat("a", 257), false},
		{"empty", "", false},
		{"leading slash", "/prod/db", false},
		{"trailing slash", "prod/db/", false},
		{"double slash", "prod//db", false},
		{"dot segment", "prod/./db", false},
		{"dotdot segment", "prod/../db", false},
		{"space", "prod/db password", false},
		{"wildcard", "prod/*", false},
		{"non ascii", "prod/pässword", false},
		{"colon", "prod:db", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateSecretName(tc.in)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
		})
	}
}

func TestNormalizeSecretTags(t *testing.T) {
	t.Parallel()
	many := make([]string, 33)
	for i := range many {
		many[i] = "t" + strings.Repeat("x", i+1)
	}
	cases := []struct {
		name string
		in   []string
		want []string
		ok   bool
	}{
		{"nil", nil, []string{}, true},
		{"sorted and deduplicated", []string{"env:prod", "db", "env:prod"}, []string{"db", "env:prod"}, true},
		{"all allowed characters", []string{"a-b_c.d:e9"}, []string{"a-b_c.d:e9"}, true},
		{"max length", []string{strings.Repeat("a", 64)}, []string{strings.Repeat("a", 64)}, true},
		{"too long", []string{strings.Repeat("a", 65)}, nil, false},
		{"empty tag", []string{""}, nil, false},
		{"uppercase", []string{"Prod"}, nil, false},
		{"slash", []string{"a/b"}, nil, false},
		{"too many", many, nil, false},
		{"exactly 32", many[:32], nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NormalizeSecretTags(tc.in)
			if !tc.ok {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			if tc.want != nil {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestValidateSecretValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		size int
		code string
	}{
		{"one byte", 1, ""},
		{"64 KiB", 64 << 10, ""},
		{"empty", 0, domain.EINVALID},
		{"over 64 KiB", 64<<10 + 1, domain.EUNPROCESSABLE},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.code, domain.ErrorCode(domain.ValidateSecretValue(make([]byte, tc.size))))
		})
	}
}

func TestNewSecretValidation(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	cases := []struct {
		name        string
		id, secName string
		description string
		tags        []string
		ok          bool
	}{
		{"valid", id, "prod/db/password", "main database", []string{"env:prod"}, true},
		{"bad id", "not-a-uuid", "prod/db", "", nil, false},
		{"bad name", id, "prod//db", "", nil, false},
		{"long description", id, "prod/db", strings.Repeat("d", 1025), nil, false},
		{"control character in description", id, "prod/db", "a\x00b", nil, false},
		{"bad tag", id, "prod/db", "", []string{"UPPER"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := domain.NewSecret(tc.id, tc.secName, tc.description, tc.tags)
			if !tc.ok {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, "secret-"+id, s.StreamID())
			require.Equal(t, int64(0), s.CurrentVersion())
			require.Equal(t, int64(1), s.NextVersion())
		})
	}
}

// newCommittedSecret creates a secret with n versions, committed.
func newCommittedSecret(t *testing.T, c *committer, keep, n int) *domain.Secret {
	t.Helper()
	s, err := domain.NewSecret(domain.NewID(), "app/token", "", nil)
	require.NoError(t, err)
	for range n {
		_, err := s.AddVersion(s.NextVersion(), []byte("sealed"), "local", false, keep)
		require.NoError(t, err)
	}
	c.commit(s)
	return s
}

func TestSecretRetention(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		keep          int
		rotations     int
		wantLive      []int64
		wantDestroyed []int64 // by the last rotation
	}{
		{"below the limit", 3, 2, []int64{1, 2}, nil},
		{"at the limit", 3, 3, []int64{1, 2, 3}, nil},
		{"one past the limit", 3, 4, []int64{2, 3, 4}, []int64{1}},
		{"keep one", 1, 5, []int64{5}, []int64{4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &committer{}
			s, err := domain.NewSecret(domain.NewID(), "app/token", "", nil)
			require.NoError(t, err)
			var destroyed []int64
			for range tc.rotations {
				destroyed, err = s.AddVersion(s.NextVersion(), []byte("sealed"), "local", false, tc.keep)
				require.NoError(t, err)
			}
			c.commit(s)
			require.Equal(t, tc.wantLive, s.LiveVersions())
			require.Equal(t, tc.wantDestroyed, destroyed)
			require.Equal(t, int64(tc.rotations), s.CurrentVersion())

			loaded, err := domain.LoadSecret(c.events)
			require.NoError(t, err)
			require.Equal(t, tc.wantLive, loaded.LiveVersions())
			for _, v := range tc.wantDestroyed {
				_, err := loaded.Revealable(v)
				require.Equal(t, domain.EGONE, domain.ErrorCode(err))
			}
		})
	}
}

func TestRetentionDestroysInTheSameChangeSet(t *testing.T) {
	t.Parallel()
	c := &committer{}
	s := newCommittedSecret(t, c, 2, 2)
	_, err := s.AddVersion(3, []byte("sealed"), "local", false, 2)
	require.NoError(t, err)
	changes := s.Changes()
	require.Len(t, changes, 2)
	require.Equal(t, domain.EventSecretVersionAdded, changes[0].Type)
	require.Equal(t, domain.EventSecretVersionDestroyed, changes[1].Type)
	var ev domain.SecretVersionDestroyed
	require.NoError(t, json.Unmarshal(changes[1].Data, &ev))
	require.Equal(t, domain.SecretVersionDestroyed{Version: 1, Reason: domain.DestroyRetention}, ev)
}

func TestSecretLifecycle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		act      func(s *domain.Secret) error
		wantCode string
		events   int
	}{
		{"add the wrong version", func(s *domain.Secret) error {
			_, err := s.AddVersion(5, []byte("x"), "local", false, 10)
			return err
		}, domain.EINTERNAL, 0},
		{"delete", func(s *domain.Secret) error { return s.Delete() }, "", 1},
		{"delete twice records once", func(s *domain.Secret) error {
			require.NoError(t, s.Delete())
			return s.Delete()
		}, "", 1},
		{"restore an active secret records nothing", func(s *domain.Secret) error { return s.Restore() }, "", 0},
		{"delete then restore", func(s *domain.Secret) error {
			require.NoError(t, s.Delete())
			return s.Restore()
		}, "", 2},
		{"rotate a deleted secret", func(s *domain.Secret) error {
			require.NoError(t, s.Delete())
			_, err := s.AddVersion(s.NextVersion(), []byte("x"), "local", false, 10)
			return err
		}, domain.EGONE, 1},
		{"reveal a deleted secret", func(s *domain.Secret) error {
			require.NoError(t, s.Delete())
			_, err := s.Revealable(0)
			return err
		}, domain.EGONE, 1},
		{"destroy a version", func(s *domain.Secret) error { return s.DestroyVersion(1) }, "", 1},
		{"destroy twice records once", func(s *domain.Secret) error {
			require.NoError(t, s.DestroyVersion(1))
			return s.DestroyVersion(1)
		}, "", 1},
		{"destroy a missing version", func(s *domain.Secret) error { return s.DestroyVersion(9) }, domain.ENOTFOUND, 0},
		{"destroy on a deleted secret", func(s *domain.Secret) error {
			require.NoError(t, s.Delete())
			return s.DestroyVersion(2)
		}, "", 2},
		{"reveal a destroyed version", func(s *domain.Secret) error {
			require.NoError(t, s.DestroyVersion(2))
			_, err := s.Revealable(2)
			return err
		}, domain.EGONE, 1},
		{"reveal a missing version", func(s *domain.Secret) error {
			_, err := s.Revealable(3)
			return err
		}, domain.ENOTFOUND, 0},
		{"metadata unchanged records nothing", func(s *domain.Secret) error { return s.UpdateMetadata("", nil) }, "", 0},
		{"metadata changed", func(s *domain.Secret) error { return s.UpdateMetadata("new", []string{"b", "a"}) }, "", 1},
		{"metadata invalid", func(s *domain.Secret) error { return s.UpdateMetadata("", []string{"B"}) }, domain.EINVALID, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &committer{}
			s := newCommittedSecret(t, c, 10, 2)
			err := tc.act(s)
			require.Equal(t, tc.wantCode, domain.ErrorCode(err))
			require.Len(t, s.Changes(), tc.events)

			// Whatever was recorded folds back to the same state.
			c.commit(s)
			loaded, err := domain.LoadSecret(c.events)
			require.NoError(t, err)
			require.Equal(t, s.Deleted(), loaded.Deleted())
			require.Equal(t, s.LiveVersions(), loaded.LiveVersions())
			require.Equal(t, s.Tags(), loaded.Tags())
		})
	}
}

func TestRevealableCurrentVersion(t *testing.T) {
	t.Parallel()
	c := &committer{}
	s := newCommittedSecret(t, c, 10, 3)
	v, err := s.Revealable(0)
	require.NoError(t, err)
	require.Equal(t, int64(3), v.Version)
	require.Equal(t, []byte("sealed"), v.SealedValue)
}

func TestSecretSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	c := &committer{}
	s := newCommittedSecret(t, c, 2, 3)
	snap, version, err := s.Snapshot()
	require.NoError(t, err)
	restored, err := domain.RestoreSecret(snap, version, nil)
	require.NoError(t, err)
	require.Equal(t, s.LiveVersions(), restored.LiveVersions())
	require.Equal(t, s.CurrentVersion(), restored.CurrentVersion())
	require.Equal(t, s.Name(), restored.Name())
}

// TestSecretCopyIsTheSnapshotsRestore: the command cache hands out copies
// instead of restoring snapshots, so a copy must be what the restore would
// give, and nothing done to one copy may show in another (retention and
// destroy delete from the live versions in place).
func TestSecretCopyIsTheSnapshotsRestore(t *testing.T) {
	t.Parallel()
	c := &committer{}
	s := newCommittedSecret(t, c, 3, 4)
	require.NoError(t, s.UpdateMetadata("kept", []string{"a", "b"}))
	c.commit(s)
	snap, version, err := s.Snapshot()
	require.NoError(t, err)
	restored, err := domain.RestoreSecret(snap, version, nil)
	require.NoError(t, err)

	cp, err := s.Copy()
	require.NoError(t, err)
	cpSnap, cpVersion, err := cp.Snapshot()
	require.NoError(t, err)
	require.JSONEq(t, string(snap), string(cpSnap), "a copy is what restoring the snapshot gives")
	require.Equal(t, version, cpVersion)
	require.Equal(t, restored.Summary(), cp.Summary())

	// Change the copy every way a command can; the original must not move.
	require.NoError(t, cp.DestroyVersion(s.LiveVersions()[0]))
	_, err = cp.AddVersion(cp.NextVersion(), []byte("new"), "local", false, 3)
	require.NoError(t, err)
	require.NoError(t, cp.UpdateMetadata("changed", []string{"c"}))
	after, _, err := s.Snapshot()
	require.NoError(t, err)
	require.JSONEq(t, string(snap), string(after), "changing a copy leaves the original as it was")
	again, err := s.Copy()
	require.NoError(t, err)
	require.Equal(t, restored.Summary(), again.Summary())
	require.Equal(t, restored.LiveVersions(), again.LiveVersions())

	_, err = cp.Copy()
	require.Equal(t, domain.EINTERNAL, domain.ErrorCode(err), "unsaved changes are not copied")
	_, err = (&domain.Secret{}).Copy()
	require.Equal(t, domain.EINTERNAL, domain.ErrorCode(err), "an empty secret is not copied")
}

func TestSecretEventsKeepCiphertextSealed(t *testing.T) {
	t.Parallel()
	s, err := domain.NewSecret(domain.NewID(), "app/token", "", nil)
	require.NoError(t, err)
	_, err = s.AddVersion(1, []byte("ciphertext-bytes"), "local", false, 10)
	require.NoError(t, err)
	for _, ev := range s.Changes() {
		redacted, err := domain.RedactForBus(ev.Data)
		require.NoError(t, err)
		require.NotContains(t, string(redacted), "sealed")
		// base64 of "ciphertext-bytes"
		require.NotContains(t, string(redacted), "Y2lwaGVydGV4dC1ieXRlcw")
	}
}

// TestEverySecretEventIsClassifiedForStamps: the secrets read model and a
// write's answer stamp a secret by SecretEventStamps, so a new secret event
// must be put on one side of it here before it can be registered.
func TestEverySecretEventIsClassifiedForStamps(t *testing.T) {
	t.Parallel()
	stamps := map[string]bool{
		domain.EventSecretCreated:          true,
		domain.EventSecretVersionAdded:     true,
		domain.EventSecretVersionDestroyed: true,
		domain.EventSecretMetadataUpdated:  true,
		domain.EventSecretDeleted:          true,
		domain.EventSecretRestored:         true,
		// A rollback's own marker: the version it adds, in the same
		// append, stamps the secret.
		domain.EventSecretRolledBack: false,
	}
	types := domain.SecretEvents().EventTypes()
	require.Len(t, types, len(stamps), "a secret event type is missing from this table")
	for _, eventType := range types {
		want, classified := stamps[eventType]
		require.True(t, classified, "secret event %s is not classified", eventType)
		require.Equal(t, want, domain.SecretEventStamps(eventType), eventType)
	}
	require.False(t, domain.SecretEventStamps(domain.EventUserCreated), "only secret events stamp a secret")
}
