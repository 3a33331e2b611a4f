package serviceaccounts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/serviceaccounts"
)

func appendAccount(t *testing.T, store *eventstore.Store, a *domain.ServiceAccount, actor string, extra ...domain.StreamAppend) int64 {
	t.Helper()
	md := domain.Metadata{Actor: actor}
	res, err := store.AppendStreams(context.Background(), append([]domain.StreamAppend{a.StreamAppend(md)}, extra...)...)
	require.NoError(t, err)
	a.Committed()
	return res.LastPosition
}

func sealed(version int64) domain.SealedClientSecret {
	return domain.SealedClientSecret{SecretID: domain.NewID(), Version: version, MAC: bytes.Repeat([]byte{0xAB}, domain.ClientSecretMACLength)}
}

// TestProjectionFollowsAndRebuilds: the read model shows accounts and their
// credentials as the log says (roles, disabled, rotation, revocation,
// deletion), never a MAC, and a rebuild from position 0 gives the same rows.
func TestProjectionFollowsAndRebuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), vaulttest.Logger(), eventstore.Options{})
	t.Cleanup(store.Close)
	now := time.Now().UTC()

	a, err := domain.NewServiceAccount(domain.NewID(), "ci", "deploys", []string{domain.AdminRoleID})
	require.NoError(t, err)
	appendAccount(t, store, a, "alice")
	keep, gone := domain.NewID(), domain.NewID()
	require.NoError(t, a.AddCredential(domain.CredentialInput{ID: keep, Name: "github", ClientID: strings.Repeat("a", 32),
		ExpiresAt: now.Add(time.Hour), AllowedCIDRs: []string{"10.0.0.0/8"}}, sealed(1), now))
	require.NoError(t, a.AddCredential(domain.CredentialInput{ID: gone, Name: "old", ClientID: strings.Repeat("b", 32)}, sealed(2), now))
	appendAccount(t, store, a, "alice")
	require.NoError(t, a.RotateCredential(keep, sealed(3), now))
	require.NoError(t, a.RevokeCredential(gone))
	require.NoError(t, a.SetDisabled(true))
	require.NoError(t, a.UpdateDescription("deploys prod"))
	appendAccount(t, store, a, "bob")

	b, err := domain.NewServiceAccount(domain.NewID(), "cron", "", nil)
	require.NoError(t, err)
	appendAccount(t, store, b, "carol")
	require.NoError(t, b.AddCredential(domain.CredentialInput{ID: domain.NewID(), Name: "x", ClientID: strings.Repeat("c", 32)}, sealed(1), now))
	require.NoError(t, b.Delete())
	head := appendAccount(t, store, b, "carol")

	runner, err := projections.NewRunner(db.AppPool, store, nil, vaulttest.Logger(), projections.Options{PollInterval: 20 * time.Millisecond}, serviceaccounts.New())
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	waiter := projections.NewWaiter(db.AppPool, nil, 20*time.Millisecond)
	require.NoError(t, waiter.WaitFor(ctx, head, time.Minute, serviceaccounts.Name))

	r := serviceaccounts.NewReader(db.AppPool)
	check := func(t *testing.T) {
		got, err := r.GetServiceAccount(ctx, a.ID())
		require.NoError(t, err)
		require.Equal(t, "ci", got.Name)
		require.Equal(t, "deploys prod", got.Description)
		require.Equal(t, []string{domain.AdminRoleID}, got.Roles)
		require.True(t, got.Disabled)
		require.Equal(t, 1, got.Credentials)
		require.Equal(t, "alice", got.CreatedBy)
		require.Equal(t, "bob", got.UpdatedBy)
		creds, err := r.ListClientCredentials(ctx, a.ID())
		require.NoError(t, err)
		require.Len(t, creds, 1)
		require.Equal(t, keep, creds[0].ID)
		require.Equal(t, strings.Repeat("a", 32), creds[0].ClientID)
		require.Equal(t, []string{"10.0.0.0/8"}, creds[0].AllowedCIDRs)
		require.NotNil(t, creds[0].RotatedAt)
		require.NotNil(t, creds[0].ExpiresAt)
		_, err = r.GetServiceAccount(ctx, b.ID())
		require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
		list, err := r.ListServiceAccounts(ctx, domain.IdentityFilter{Prefix: "c"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		raw, err := json.Marshal([]any{list, creds})
		require.NoError(t, err)
		require.NotContains(t, strings.ToLower(string(raw)), "mac")
	}
	t.Run("follows", check)
	require.NoError(t, runner.Rebuild(ctx, serviceaccounts.Name, nil))
	require.NoError(t, waiter.WaitFor(ctx, head, time.Minute, serviceaccounts.Name))
	t.Run("rebuilt", check)
}
