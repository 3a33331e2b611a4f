package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	vaultclient "github.com/securevault/vault/client"
	"github.com/securevault/vault/cmd/internal/vaultcli"
	"github.com/securevault/vault/domain"
)

// TestMachineIdentityEndToEnd is issue 12's "done when": an admin creates
// a service account and a credential; a process authenticates with the
// client-credentials grant (package client, renewing by itself), reads the
// secrets its role allows and gets 403 elsewhere; `vaultctl run -- env`
// shows the injected variables; the credential is revoked and the next
// request fails.
func TestMachineIdentityEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx, admin := h.ctx(), h.Admin
	h.secret("app/prod/db-password", "pw-1")
	h.secret("app/prod/api-key", "key-1")
	h.secret("other/root", "root")

	st := []domain.Statement{allow([]string{"secrets/app/prod/**"}, domain.ActionList, domain.ActionRead, domain.ActionReveal)}
	p, _, err := admin.CreatePolicy(ctx, vaultclient.PolicyInput{Name: vaultclient.Ptr("app-prod"), Statements: &st})
	require.NoError(t, err)
	r, _, err := admin.CreateRole(ctx, vaultclient.RoleInput{Name: vaultclient.Ptr("app-prod"), Policies: &[]string{p.ID}})
	require.NoError(t, err)
	acct, _, err := admin.CreateServiceAccount(ctx, vaultclient.AccountInput{Name: vaultclient.Ptr("billing"), Roles: &[]string{r.ID}})
	require.NoError(t, err)
	cred, err := admin.CreateCredential(ctx, acct.ID, vaultclient.CredentialInput{Name: "ci"})
	require.NoError(t, err)
	require.NotEmpty(t, cred.ClientSecret)
	creds, err := admin.ListCredentials(ctx, acct.ID)
	require.NoError(t, err)
	require.Len(t, creds, 1)

	app := h.client(vaultclient.WithClientCredentials(cred.ClientID, cred.ClientSecret))
	v, err := app.RevealSecretByName(ctx, "app/prod/db-password", 0)
	require.NoError(t, err)
	require.Equal(t, "pw-1", v.Value)
	_, err = app.RevealSecretByName(ctx, "other/root", 0)
	require.True(t, vaultclient.IsForbidden(err), "%v", err)

	c := newCtl(t, h)
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(cred.ClientSecret+"\n"), 0o600))
	out := c.ok("", "run", "--client-id", cred.ClientID, "--client-secret-file", secretFile, "--prefix", "app/prod/", "--", "env")
	require.Contains(t, out, "DB_PASSWORD=pw-1\n")
	require.Contains(t, out, "API_KEY=key-1\n")
	require.NotContains(t, out, "=root\n", "other/root is not under the prefix")
	c.ok("", "login", "--client-id", cred.ClientID, "--client-secret-file", secretFile)
	require.Contains(t, c.ok("", "secrets", "list"), "app/prod/db-password")

	revoked, err := admin.RevokeCredential(ctx, acct.ID, cred.ID)
	require.NoError(t, err)
	_, err = app.RevealSecretByName(ctx, "app/prod/db-password", 0)
	require.Equal(t, vaultclient.CodeUnauthorized, vaultclient.Code(err), "the revoked credential's token fails at once, and no new one is issued")

	// An auditor's view: what the account held just before the revocation.
	creds, err = admin.ListCredentials(ctx, acct.ID)
	require.NoError(t, err)
	require.Empty(t, creds)
	before := vaultclient.At{AtPosition: revoked.Position - 1}
	creds, err = admin.ListCredentials(ctx, acct.ID, before)
	require.NoError(t, err)
	require.Len(t, creds, 1)
	require.Equal(t, cred.ClientID, creds[0].ClientID)
	then, err := admin.GetServiceAccount(ctx, acct.ID, before)
	require.NoError(t, err)
	require.Equal(t, 1, then.Credentials)
	listed, err := admin.ListServiceAccounts(ctx, vaultclient.ListOptions{At: before})
	require.NoError(t, err)
	require.Len(t, listed.Items, 1)
	require.Equal(t, "billing", listed.Items[0].Name)
	_, errOut, code := c.run("", "secrets", "list")
	require.Equal(t, vaultcli.ExitUnauthenticated, code, errOut)
	_, errOut, code = c.run("", "run", "--client-id", cred.ClientID, "--client-secret-file", secretFile, "--prefix", "app/prod/", "--", "env")
	require.Equal(t, vaultcli.ExitUnauthenticated, code, errOut)
	require.False(t, strings.Contains(errOut, cred.ClientSecret), "the secret is never echoed")
}
