package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/projections/secrets"
)

// TestStaleCachedSecretsNeverDecide: a second command set over the same log
// (another replica, with a cache of its own) serves the secret from its
// cache after the first changed it. Every command it runs must answer as if
// it had folded the log: an append's expected version catches the stale
// guess and the command decides again on a fresh load.
func TestStaleCachedSecretsNeverDecide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newSecretEnv(t, envOptions{})
	// Replica B: its own service, cache and data-key store over the same
	// database (the keys are shared through it).
	svcB := commands.NewService(e.store, e.waiter, vaulttest.Logger(), commands.Options{ReadYourWritesTimeout: 30 * time.Second})
	b, err := commands.NewSecrets(svcB, commands.SecretDeps{
		DataKeys: e.keys, ReadModel: secrets.NewQuery(e.db.AppPool), KeyProvider: keys.ProviderLocal,
	})
	require.NoError(t, err)

	sec := e.create(t, "team/cached", "v1")
	reveal := func(s *commands.Secrets) (string, int64, error) {
		rev, _, err := s.RevealSecret(ctx, admin(), sec.ID, 0)
		return string(rev.Value), rev.Version, err
	}
	rotate := func(s *commands.Secrets, value string, expected *int64) (commands.SecretResult, error) {
		return s.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: sec.ID, Value: []byte(value), ExpectedVersion: expected})
	}
	// B caches the secret at version 1.
	value, version, err := reveal(b)
	require.NoError(t, err)
	require.Equal(t, "v1", value)
	require.Equal(t, int64(1), version)

	// A rotates; B's cache still says version 1.
	_, err = rotate(e.secrets, "v2", nil)
	require.NoError(t, err)
	value, version, err = reveal(b)
	require.NoError(t, err)
	require.Equal(t, "v2", value, "a reveal from a stale cache shows the current value")
	require.Equal(t, int64(2), version)

	// A rotates again; B rotates from its stale cache: the append conflicts
	// and B rotates the current version.
	_, err = rotate(e.secrets, "v3", nil)
	require.NoError(t, err)
	res, err := rotate(b, "v4", nil)
	require.NoError(t, err)
	require.Equal(t, int64(4), res.Secret.CurrentVersion)

	// If-Match against the true current version succeeds on B even though
	// its cache was behind.
	_, err = rotate(e.secrets, "v5", nil)
	require.NoError(t, err)
	five := int64(5)
	res, err = rotate(b, "v6", &five)
	require.NoError(t, err)
	require.Equal(t, int64(6), res.Secret.CurrentVersion)
	stale := int64(5)
	_, err = rotate(b, "v7", &stale)
	require.Equal(t, domain.EPRECONDITION, domain.ErrorCode(err), "%v", err)

	// A deletes; B's cache still holds a live secret: both refuse.
	_, err = e.secrets.DeleteSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	_, _, err = reveal(b)
	require.Error(t, err, "a deleted secret is not revealed from a stale cache")
	_, err = rotate(b, "v8", nil)
	require.Equal(t, domain.EGONE, domain.ErrorCode(err), "%v", err)

	// A restores; B's cache (refreshed by the refusal) says deleted: both
	// answer as the log does.
	_, err = e.secrets.RestoreSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	value, _, err = reveal(b)
	require.NoError(t, err)
	require.Equal(t, "v6", value)
	res, err = rotate(b, "v9", nil)
	require.NoError(t, err)
	require.Equal(t, int64(7), res.Secret.CurrentVersion)
}
