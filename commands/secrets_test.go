package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/queries"
)

func TestCreateRevealAudited(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ctx := context.Background()
	sec := e.create(t, "prod/db/password", "hunter2-create", "env:prod")
	require.Equal(t, "prod/db/password", sec.Name)
	require.Equal(t, int64(1), sec.CurrentVersion)
	require.Equal(t, []string{"env:prod"}, sec.Tags)
	require.Equal(t, domain.SecretStateActive, sec.State)
	require.False(t, sec.CreatedAt.IsZero())

	secretStream := domain.StreamID(domain.SecretAggregate, sec.ID)
	versionBefore := len(e.stream(t, secretStream))

	who := admin()
	rev, w, err := e.secrets.RevealSecret(ctx, who, sec.ID, 0)
	require.NoError(t, err)
	require.Equal(t, "hunter2-create", string(rev.Value))
	require.Equal(t, int64(1), rev.Version)

	// The reveal is on record by the time the value is returned, with who
	// and from where, and it did not move the secret's own version.
	access := e.stream(t, domain.SecretAccessStream(sec.ID))
	require.Len(t, access, 1)
	require.Equal(t, domain.EventSecretRevealed, access[0].Type)
	require.Equal(t, w.Position, access[0].Position)
	require.Equal(t, who.Principal.UserID, access[0].Metadata.Actor)
	require.Equal(t, "192.0.2.7", access[0].Metadata.ClientIP)
	require.Equal(t, "secret-tests", access[0].Metadata.UserAgent)
	var revealed domain.SecretRevealed
	require.NoError(t, json.Unmarshal(access[0].Data, &revealed))
	require.Equal(t, domain.SecretRevealed{SecretID: sec.ID, Version: 1}, revealed)
	require.Len(t, e.stream(t, secretStream), versionBefore)
}

func TestCreateSecretRejects(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	e.create(t, "taken/name", "v")
	cases := []struct {
		name string
		in   commands.CreateSecretInput
		code string
	}{
		{"duplicate name", commands.CreateSecretInput{Name: "taken/name", Value: []byte("x")}, domain.ECONFLICT},
		{"invalid name", commands.CreateSecretInput{Name: "bad//name", Value: []byte("x")}, domain.EINVALID},
		{"empty value", commands.CreateSecretInput{Name: "ok/empty"}, domain.EINVALID},
		{"value over 64 KiB", commands.CreateSecretInput{Name: "ok/big", Value: make([]byte, 64<<10+1)}, domain.EUNPROCESSABLE},
		{"invalid tag", commands.CreateSecretInput{Name: "ok/tag", Value: []byte("x"), Tags: []string{"UP"}}, domain.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.secrets.CreateSecret(context.Background(), admin(), tc.in)
			require.Equal(t, tc.code, domain.ErrorCode(err), "%v", err)
		})
	}
}

func TestConcurrentCreatesOfOneNameExactlyOneWins(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.secrets.CreateSecret(context.Background(), admin(), commands.CreateSecretInput{
				Name: "race/name", Value: []byte(fmt.Sprintf("value-%d", i)),
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "%v", err)
	}
	require.Equal(t, 1, won)
	// The losers' data keys were deleted; only the winner's remains.
	count, err := e.keys.Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), count)
}

func TestRotateIfMatchRaceExactlyOneWins(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	sec := e.create(t, "cas/token", "v1")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			one := int64(1)
			_, errs[i] = e.secrets.RotateSecret(context.Background(), admin(), commands.RotateSecretInput{
				ID: sec.ID, Value: []byte(fmt.Sprintf("v2-from-%d", i)), ExpectedVersion: &one,
			})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two rotations with If-Match 1 succeeded")
			winner = i
			continue
		}
		require.Equal(t, domain.EPRECONDITION, domain.ErrorCode(err), "%v", err)
	}
	require.NotEqual(t, -1, winner)
	require.Equal(t, fmt.Sprintf("v2-from-%d", winner), e.reveal(t, sec.ID, 0))
	got, err := e.get(admin(), sec.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), got.CurrentVersion)
}

func TestConcurrentRotationsWithoutIfMatchAllLand(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	sec := e.create(t, "busy/token", "v1")
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.secrets.RotateSecret(context.Background(), admin(), commands.RotateSecretInput{
				ID: sec.ID, Value: []byte(fmt.Sprintf("value-%d", i)),
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	for v := int64(2); v <= n+1; v++ {
		seen[e.reveal(t, sec.ID, v)] = true
	}
	require.Len(t, seen, n, "every rotation's value is readable under its own version")
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ptr := func(n int64) *int64 { return &n }
	cases := []struct {
		name  string
		in    func(id string) commands.RotateSecretInput
		code  string
		check func(t *testing.T, id string)
	}{
		{"value", func(id string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: id, Value: []byte("second")}
		}, "", func(t *testing.T, id string) { require.Equal(t, "second", e.reveal(t, id, 2)) }},
		{"matching If-Match", func(id string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: id, Value: []byte("second"), ExpectedVersion: ptr(1)}
		}, "", nil},
		{"stale If-Match", func(id string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: id, Value: []byte("second"), ExpectedVersion: ptr(0)}
		}, domain.EPRECONDITION, nil},
		{"generated", func(id string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: id, Generate: &commands.GenerateSpec{Length: 40, Charset: commands.CharsetHex}}
		}, "", func(t *testing.T, id string) {
			v := e.reveal(t, id, 2)
			require.Len(t, v, 40)
			require.Equal(t, "", strings.Trim(v, "0123456789abcdef"))
		}},
		{"value and generate", func(id string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: id, Value: []byte("x"), Generate: &commands.GenerateSpec{Length: 8}}
		}, domain.EINVALID, nil},
		{"too large", func(id string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: id, Value: make([]byte, 64<<10+1)}
		}, domain.EUNPROCESSABLE, nil},
		{"unknown secret", func(string) commands.RotateSecretInput {
			return commands.RotateSecretInput{ID: domain.NewID(), Value: []byte("x")}
		}, domain.ENOTFOUND, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sec := e.create(t, fmt.Sprintf("rotate/case-%d", i), "first")
			_, err := e.secrets.RotateSecret(context.Background(), admin(), tc.in(sec.ID))
			require.Equal(t, tc.code, domain.ErrorCode(err), "%v", err)
			if tc.check != nil {
				tc.check(t, sec.ID)
			}
		})
	}
}

func TestRevealFailsWhenTheAuditAppendFails(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{wrap: func(l commands.EventLog) commands.EventLog {
		return failAppends{EventLog: l, prefix: domain.SecretAccessAggregate + "-"}
	}})
	sec := e.create(t, "audited/only", "never-unaudited")
	rev, _, err := e.secrets.RevealSecret(context.Background(), admin(), sec.ID, 0)
	require.Error(t, err)
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	require.Nil(t, rev.Value)
	require.NotContains(t, err.Error(), "never-unaudited")
	require.Empty(t, e.stream(t, domain.SecretAccessStream(sec.ID)))
}

func TestDestroyVersion(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ctx := context.Background()
	sec := e.create(t, "shred/me", "v1")
	_, err := e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: sec.ID, Value: []byte("v2")})
	require.NoError(t, err)

	_, err = e.secrets.DestroySecretVersion(ctx, admin(), sec.ID, 1)
	require.NoError(t, err)
	_, _, err = e.secrets.RevealSecret(ctx, admin(), sec.ID, 1)
	require.Equal(t, domain.EGONE, domain.ErrorCode(err))
	_, err = e.keys.DataKey(ctx, sec.ID, 1)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "the data key is shredded")
	require.Equal(t, "v2", e.reveal(t, sec.ID, 0))

	// A retry appends nothing more and still succeeds.
	before := len(e.stream(t, domain.StreamID(domain.SecretAggregate, sec.ID)))
	_, err = e.secrets.DestroySecretVersion(ctx, admin(), sec.ID, 1)
	require.NoError(t, err)
	require.Len(t, e.stream(t, domain.StreamID(domain.SecretAggregate, sec.ID)), before)

	_, err = e.secrets.DestroySecretVersion(ctx, admin(), sec.ID, 7)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))

	versions, err := e.versions(admin(), sec.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, domain.SecretVersionStateDestroyed, versions[0].State)
	require.Equal(t, domain.DestroyManual, versions[0].DestroyReason)
	require.NotNil(t, versions[0].DestroyedAt)
	require.Equal(t, domain.SecretVersionStateActive, versions[1].State)
}

// A crash between recording the destruction and deleting the key leaves the
// key row; the version must stay unrevealable, and destroying again must
// finish the shredding.
func TestDestroyedVersionWithSurvivingKeyIsNeverRevealed(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ctx := context.Background()
	sec := e.create(t, "crash/during-destroy", "still-secret")
	stream := domain.StreamID(domain.SecretAggregate, sec.ID)
	events := e.stream(t, stream)
	data, err := json.Marshal(domain.SecretVersionDestroyed{Version: 1, Reason: domain.DestroyManual})
	require.NoError(t, err)
	_, err = e.store.Append(ctx, stream, domain.ExpectVersion(int64(len(events))), domain.NewEvent{
		ID: domain.NewID(), Type: domain.EventSecretVersionDestroyed, SchemaVersion: 1, Data: data,
		Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.NoError(t, err)
	_, err = e.keys.DataKey(ctx, sec.ID, 1)
	require.NoError(t, err, "the key row survived the simulated crash")

	_, _, err = e.secrets.RevealSecret(ctx, admin(), sec.ID, 1)
	require.Equal(t, domain.EGONE, domain.ErrorCode(err))

	_, err = e.secrets.DestroySecretVersion(ctx, admin(), sec.ID, 1)
	require.NoError(t, err)
	_, err = e.keys.DataKey(ctx, sec.ID, 1)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
}

func TestRetentionDestroysOldestVersions(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{keep: 2})
	ctx := context.Background()
	sec := e.create(t, "retained/token", "v1")
	for i := 2; i <= 4; i++ {
		_, err := e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: sec.ID, Value: []byte(fmt.Sprintf("v%d", i))})
		require.NoError(t, err)
	}
	for _, v := range []int64{1, 2} {
		_, _, err := e.secrets.RevealSecret(ctx, admin(), sec.ID, v)
		require.Equal(t, domain.EGONE, domain.ErrorCode(err))
		_, err = e.keys.DataKey(ctx, sec.ID, v)
		require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	}
	require.Equal(t, "v3", e.reveal(t, sec.ID, 3))
	require.Equal(t, "v4", e.reveal(t, sec.ID, 0))

	got, err := e.get(admin(), sec.ID)
	require.NoError(t, err)
	require.Equal(t, int64(4), got.CurrentVersion)
	require.Equal(t, int64(2), got.VersionCount)
	versions, err := e.versions(admin(), sec.ID)
	require.NoError(t, err)
	for _, v := range versions[:2] {
		require.Equal(t, domain.DestroyRetention, v.DestroyReason)
	}
}

func TestDeleteAndRestore(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ctx := context.Background()
	sec := e.create(t, "soft/delete", "v1")

	res, err := e.secrets.DeleteSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	require.Equal(t, domain.SecretStateDeleted, res.Secret.State)
	_, _, err = e.secrets.RevealSecret(ctx, admin(), sec.ID, 0)
	require.Equal(t, domain.EGONE, domain.ErrorCode(err))
	_, err = e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: sec.ID, Value: []byte("v2")})
	require.Equal(t, domain.EGONE, domain.ErrorCode(err))
	page, err := e.list(admin(), queries.SecretListInput{})
	require.NoError(t, err)
	require.Empty(t, page.Items)

	// Deleting again is a no-op that still reports a position.
	again, err := e.secrets.DeleteSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	require.Equal(t, res.Written.Position, again.Written.Position)

	restored, err := e.secrets.RestoreSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	require.Equal(t, domain.SecretStateActive, restored.Secret.State)
	require.Equal(t, "v1", e.reveal(t, sec.ID, 0))
}

func TestTamperedCiphertextNeverDecrypts(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ctx := context.Background()
	a := e.create(t, "tamper/a", "alpha-secret")
	b := e.create(t, "tamper/b", "bravo-secret")
	sealedA := sealedValue(t, e, a.ID, 1)

	flipped := append([]byte(nil), sealedA...)
	flipped[len(flipped)-1] ^= 1

	cases := []struct {
		name   string
		target string
		sealed []byte
	}{
		{"moved to another secret", b.ID, sealedA},
		{"moved to another version of its secret", a.ID, sealedA},
		{"bit flipped", a.ID, flipped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Forge the next version of the target with the given ciphertext,
			// with a genuine data key stored for that version.
			stream := domain.StreamID(domain.SecretAggregate, tc.target)
			events := e.stream(t, stream)
			sec, err := domain.LoadSecret(events)
			require.NoError(t, err)
			v := sec.NextVersion()
			dk, err := e.keys.NewDataKey(ctx, tc.target, v)
			require.NoError(t, err)
			envelope.Zero(dk)
			data, err := json.Marshal(domain.SecretVersionAdded{Version: v, SealedValue: tc.sealed, KeyProvider: keys.ProviderLocal})
			require.NoError(t, err)
			_, err = e.store.Append(ctx, stream, domain.ExpectVersion(int64(len(events))), domain.NewEvent{
				ID: domain.NewID(), Type: domain.EventSecretVersionAdded, SchemaVersion: 1, Data: data,
				Metadata: domain.Metadata{Actor: "attacker"},
			})
			require.NoError(t, err)

			rev, _, err := e.secrets.RevealSecret(ctx, admin(), tc.target, v)
			require.Error(t, err)
			require.ErrorIs(t, err, envelope.ErrOpen)
			require.Nil(t, rev.Value)
		})
	}
}

func sealedValue(t *testing.T, e *secretEnv, id string, version int64) []byte {
	t.Helper()
	for _, ev := range e.stream(t, domain.StreamID(domain.SecretAggregate, id)) {
		if ev.Type != domain.EventSecretVersionAdded {
			continue
		}
		var added domain.SecretVersionAdded
		require.NoError(t, json.Unmarshal(ev.Data, &added))
		if added.Version == version {
			return added.SealedValue
		}
	}
	t.Fatalf("secret %s has no version %d", id, version)
	return nil
}

// TestAuthorizationMatrix checks every action twice: allowed by a policy
// naming exactly that action, and refused (with the refusal on record) when
// the caller holds every other action.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	ctx := context.Background()
	all := []string{domain.ActionRead, domain.ActionList, domain.ActionWrite, domain.ActionRotate, domain.ActionDelete, domain.ActionReveal, domain.ActionDestroy}
	cases := []struct {
		action string
		run    func(c domain.Caller, id string) error
	}{
		{domain.ActionWrite, func(c domain.Caller, _ string) error {
			_, err := e.secrets.CreateSecret(ctx, c, commands.CreateSecretInput{Name: "authz/new-" + domain.NewID(), Value: []byte("x")})
			return err
		}},
		{domain.ActionRotate, func(c domain.Caller, id string) error {
			_, err := e.secrets.RotateSecret(ctx, c, commands.RotateSecretInput{ID: id, Value: []byte("x")})
			return err
		}},
		{domain.ActionReveal, func(c domain.Caller, id string) error {
			_, _, err := e.secrets.RevealSecret(ctx, c, id, 0)
			return err
		}},
		{domain.ActionRead, func(c domain.Caller, id string) error {
			_, err := e.get(c, id)
			return err
		}},
		{domain.ActionDelete, func(c domain.Caller, id string) error {
			_, err := e.secrets.DeleteSecret(ctx, c, id)
			return err
		}},
		{domain.ActionDestroy, func(c domain.Caller, id string) error {
			_, err := e.secrets.DestroySecretVersion(ctx, c, id, 1)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			sec := e.create(t, "authz/"+tc.action, "v1")

			var others []string
			for _, a := range all {
				if a != tc.action {
					others = append(others, a)
				}
			}
			denied := caller(allow("secrets/**", others...))
			err := tc.run(denied, sec.ID)
			require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err), "%v", err)
			require.Equal(t, []string{domain.EventAccessDenied}, e.eventTypes(t, domain.AccessStream(denied.Principal.UserID)))

			explicitDeny := caller(allow("secrets/**", "*"), deny("secrets/authz/*", tc.action))
			require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(tc.run(explicitDeny, sec.ID)))

			anonymous := domain.Caller{}
			require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(tc.run(anonymous, sec.ID)))

			require.NoError(t, tc.run(caller(allow("secrets/authz/*", tc.action)), sec.ID))
		})
	}
	t.Run("restore needs delete", func(t *testing.T) {
		sec := e.create(t, "authz/restore", "v1")
		_, err := e.secrets.DeleteSecret(ctx, admin(), sec.ID)
		require.NoError(t, err)
		_, err = e.secrets.RestoreSecret(ctx, caller(allow("secrets/**", domain.ActionRead, domain.ActionWrite)), sec.ID)
		require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err))
		_, err = e.secrets.RestoreSecret(ctx, caller(allow("secrets/authz/restore", domain.ActionDelete)), sec.ID)
		require.NoError(t, err)
	})
	t.Run("versions need read", func(t *testing.T) {
		sec := e.create(t, "authz/versions", "v1")
		_, err := e.versions(caller(allow("secrets/**", domain.ActionReveal, domain.ActionList)), sec.ID)
		require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err))
		vs, err := e.versions(caller(allow("secrets/authz/versions", domain.ActionRead)), sec.ID)
		require.NoError(t, err)
		require.Len(t, vs, 1)
	})
}

func TestGenerateValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		charset  string
		alphabet string
	}{
		{commands.CharsetAlphanumeric, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"},
		{commands.CharsetHex, "0123456789abcdef"},
		{commands.CharsetBase64URL, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
		{commands.CharsetASCIIPrintable, func() string {
			var b strings.Builder
			for c := '!'; c <= '~'; c++ {
				b.WriteRune(c)
			}
			return b.String()
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.charset, func(t *testing.T) {
			t.Parallel()
			v, err := commands.GenerateValue(commands.GenerateSpec{Length: commands.GenerateMaxLength, Charset: tc.charset})
			require.NoError(t, err)
			require.Len(t, v, commands.GenerateMaxLength)
			// Only alphabet characters, and with 4096 draws every one of at
			// most 94 characters shows up (a miss has probability < 1e-15).
			for _, c := range v {
				require.True(t, strings.IndexByte(tc.alphabet, c) >= 0, "unexpected %q", c)
			}
			for i := 0; i < len(tc.alphabet); i++ {
				require.Contains(t, string(v), tc.alphabet[i:i+1])
			}
		})
	}
	for _, bad := range []commands.GenerateSpec{{Length: 7}, {Length: 4097}, {Length: 16, Charset: "emoji"}} {
		_, err := commands.GenerateValue(bad)
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	}
}
