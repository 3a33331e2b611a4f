package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	vaultclient "github.com/securevault/vault/client"
	"github.com/securevault/vault/domain"
)

// TestGoClientSecrets drives every secret call of package client against
// a real vaultd: names with '/', edits, conditional writes, rollback,
// time travel, delete and restore, and the error codes a caller branches
// on.
func TestGoClientSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx, admin := h.ctx(), h.Admin

	created, w, err := admin.CreateSecret(ctx, vaultclient.CreateSecretInput{Name: "app/prod/db/password", Value: "v1", Tags: []string{"env:prod"}})
	require.NoError(t, err)
	require.Positive(t, w.Position)

	got, err := admin.GetSecretByName(ctx, "App/Prod/DB/password")
	require.NoError(t, err)
	require.Equal(t, created.ID, got.ID)
	rev, err := admin.RevealSecretByName(ctx, "app/prod/db/password", 0)
	require.NoError(t, err)
	require.Equal(t, vaultclient.Revealed{Value: "v1", Version: 1}, rev)

	// Raw '/' in the path reach the same route as %2F.
	status := rawGet(t, h, "/api/v1/secrets/by-name/app/prod/db/password", admin)
	require.Equal(t, http.StatusOK, status)

	updated, _, err := admin.UpdateSecret(ctx, created.ID, vaultclient.UpdateSecretInput{Description: vaultclient.Ptr("the database"), IfMatch: vaultclient.Ptr(int64(1))})
	require.NoError(t, err)
	require.Equal(t, "the database", updated.Description)
	require.Equal(t, []string{"env:prod"}, updated.Tags, "tags left out are kept")
	_, _, err = admin.UpdateSecret(ctx, created.ID, vaultclient.UpdateSecretInput{Tags: &[]string{"env:prod", "team:db"}})
	require.NoError(t, err)

	_, _, err = admin.RotateSecret(ctx, created.ID, vaultclient.RotateSecretInput{Value: "v2", IfMatch: vaultclient.Ptr(int64(1))})
	require.NoError(t, err)
	_, _, err = admin.RotateSecret(ctx, created.ID, vaultclient.RotateSecretInput{Value: "v3", IfMatch: vaultclient.Ptr(int64(1))})
	require.Equal(t, vaultclient.CodePrecondition, vaultclient.Code(err))
	_, _, err = admin.RotateSecret(ctx, created.ID, vaultclient.RotateSecretInput{Generate: &vaultclient.Generate{Length: 24, Charset: "hex"}})
	require.NoError(t, err)

	// A rotator may roll back without being able to reveal.
	rotator, _ := h.userWith("rotator", allow([]string{"secrets/app/**"}, domain.ActionRead, domain.ActionRotate))
	_, err = rotator.RevealSecret(ctx, created.ID, 1)
	require.True(t, vaultclient.IsForbidden(err), "%v", err)
	back, _, err := rotator.RollbackSecret(ctx, created.ID, 1, nil)
	require.NoError(t, err)
	require.EqualValues(t, 4, back.CurrentVersion)
	rev, err = admin.RevealSecret(ctx, created.ID, 0)
	require.NoError(t, err)
	require.Equal(t, vaultclient.Revealed{Value: "v1", Version: 4}, rev, "version 4 holds version 1's value")

	_, err = admin.DestroySecretVersion(ctx, created.ID, 2)
	require.NoError(t, err)
	_, _, err = rotator.RollbackSecret(ctx, created.ID, 2, nil)
	require.Equal(t, vaultclient.CodeGone, vaultclient.Code(err), "a destroyed version cannot be rolled back to")
	_, _, err = rotator.RollbackSecret(ctx, created.ID, 9, nil)
	require.True(t, vaultclient.IsNotFound(err))

	versions, err := admin.SecretVersions(ctx, created.ID)
	require.NoError(t, err)
	require.Len(t, versions, 4)
	history, err := admin.SecretHistory(ctx, created.ID, vaultclient.HistoryOptions{})
	require.NoError(t, err)
	var types []string
	for _, e := range history.Items {
		types = append(types, e.Type)
	}
	require.Contains(t, types, domain.EventSecretRolledBack)
	require.Contains(t, types, domain.EventSecretMetadataUpdated)
	diff, err := admin.DiffSecret(ctx, created.ID, "1", "")
	require.NoError(t, err)
	require.Equal(t, created.ID, diff.SecretID)
	past, err := admin.GetSecretByName(ctx, "app/prod/db/password", vaultclient.At{AtPosition: w.Position})
	require.NoError(t, err)
	require.EqualValues(t, 1, past.CurrentVersion)

	_, err = admin.DeleteSecret(ctx, created.ID)
	require.NoError(t, err)
	_, err = admin.RevealSecretByName(ctx, "app/prod/db/password", 0)
	require.Equal(t, vaultclient.CodeGone, vaultclient.Code(err))
	_, _, err = admin.RestoreSecret(ctx, created.ID)
	require.NoError(t, err)

	list, err := admin.AllSecrets(ctx, vaultclient.ListSecretsOptions{Prefix: "app/", Limit: 1})
	require.NoError(t, err)
	require.Len(t, list, 1)

	// Refusals carry the vault's codes, and a name the caller may not read
	// is refused whether or not it exists.
	_, err = admin.GetSecretByName(ctx, "app/none")
	require.True(t, vaultclient.IsNotFound(err))
	_, err = rotator.GetSecretByName(ctx, "other/taken-or-not")
	require.True(t, vaultclient.IsForbidden(err))
	_, _, err = admin.CreateSecret(ctx, vaultclient.CreateSecretInput{Name: "app/prod/db/password", Value: "x"})
	require.Equal(t, vaultclient.CodeConflict, vaultclient.Code(err))
	_, _, err = admin.CreateSecret(ctx, vaultclient.CreateSecretInput{Name: "app/../x", Value: "x"})
	require.Equal(t, vaultclient.CodeInvalid, vaultclient.Code(err))
	var verr *vaultclient.Error
	require.ErrorAs(t, err, &verr)
	require.Equal(t, http.StatusBadRequest, verr.Status)
	require.NotEmpty(t, verr.RequestID)
}

// TestGoClientBatchReveal: one request reveals what the caller may reveal,
// one audit event per secret is in the log before the answer, and the
// refusals say nothing of existence beyond what `list` allows.
func TestGoClientBatchReveal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.ctx()
	a := h.secret("app/prod/a", "value-a")
	b := h.secret("app/prod/b", "value-b")
	h.secret("app/staging/c", "value-c")
	h.secret("other/d", "value-d")
	app, _ := h.userWith("app",
		allow([]string{"secrets/app/prod/**"}, domain.ActionReveal),
		allow([]string{"secrets/app/**"}, domain.ActionList))

	res, err := app.RevealPrefix(ctx, "app/")
	require.NoError(t, err)
	require.Equal(t, []vaultclient.RevealedSecret{
		{Name: "app/prod/a", ID: a.ID, Version: 1, Value: "value-a"},
		{Name: "app/prod/b", ID: b.ID, Version: 1, Value: "value-b"},
	}, res.Items)
	require.Equal(t, []vaultclient.RevealRefusal{{Name: "app/staging/c", Reason: "not_permitted"}}, res.Refused)
	for _, id := range []string{a.ID, b.ID} {
		events, err := h.inst.app.store.ReadStream(ctx, domain.SecretAccessStream(id), 0, 10)
		require.NoError(t, err)
		require.Len(t, events, 1, "one reveal event per secret")
		require.Equal(t, domain.EventSecretRevealed, events[0].Type)
		require.LessOrEqual(t, events[0].Position, res.Written.Position, "appended before the answer")
	}

	res, err = app.RevealSecrets(ctx, []string{"app/prod/a", "other/d", "other/none", "app/prod/none", "app/staging/none"})
	require.NoError(t, err)
	require.Len(t, res.Items, 1)
	require.Equal(t, []vaultclient.RevealRefusal{
		{Name: "app/prod/none", Reason: "not_found"},
		{Name: "app/staging/none", Reason: "not_found"},
		{Name: "other/d", Reason: "not_permitted"},
		{Name: "other/none", Reason: "not_permitted"},
	}, res.Refused, "a name the caller may neither reveal nor list is refused whether or not it exists")

	// Nothing to reveal: an answer, no event.
	res, err = app.RevealPrefix(ctx, "other/")
	require.NoError(t, err)
	require.Empty(t, res.Items)
	require.Empty(t, res.Refused)
}

// TestGoClientSessionsAndIdentities: login, refresh and logout, the
// identity calls, access checks and the audit log through the client.
func TestGoClientSessionsAndIdentities(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.ctx()
	c := h.client()
	_, err := c.Status(ctx)
	require.Equal(t, vaultclient.CodeUnauthorized, vaultclient.Code(err), "no credentials")
	first, err := c.Login(ctx, "admin", testAdminPassword)
	require.NoError(t, err)
	second, err := c.Refresh(ctx)
	require.NoError(t, err)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	_, err = c.Status(ctx)
	require.NoError(t, err)

	reader, user := h.userWith("reader", allow([]string{"secrets/app/**"}, domain.ActionRead))
	got, err := c.GetUser(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, "reader", got.Username)
	users, err := c.ListUsers(ctx, vaultclient.ListOptions{Name: "read"})
	require.NoError(t, err)
	require.Len(t, users.Items, 1)
	roles, err := c.ListRoles(ctx, vaultclient.ListOptions{Name: "reader"})
	require.NoError(t, err)
	require.Len(t, roles.Items, 1)
	policies, err := c.ListPolicies(ctx, vaultclient.ListOptions{Name: "reader"})
	require.NoError(t, err)
	require.Len(t, policies.Items, 1)

	check, err := c.CheckAccess(ctx, user.ID, domain.ActionRead, "secrets/app/x")
	require.NoError(t, err)
	require.True(t, check.Decision.Allowed)
	check, err = c.CheckAccess(ctx, user.ID, domain.ActionReveal, "secrets/app/x")
	require.NoError(t, err)
	require.False(t, check.Decision.Allowed)

	_, err = reader.Status(ctx)
	require.True(t, vaultclient.IsForbidden(err))
	// A write after the refusal: its position bounds the audit read.
	_, w, err := c.UpdatePolicy(ctx, policies.Items[0].ID, vaultclient.PolicyInput{Description: vaultclient.Ptr("reads app")})
	require.NoError(t, err)
	audit, err := c.Audit(ctx, vaultclient.AuditOptions{Outcome: "denied", User: "reader", Limit: 10, MinPosition: w.Position})
	require.NoError(t, err)
	require.NotEmpty(t, audit.Items)

	_, err = c.DeleteUser(ctx, user.ID)
	require.NoError(t, err)
	_, err = c.DeleteRole(ctx, roles.Items[0].ID)
	require.NoError(t, err)
	_, err = c.DeletePolicy(ctx, policies.Items[0].ID)
	require.NoError(t, err)

	require.NoError(t, c.Logout(ctx))
	_, err = c.Status(ctx)
	require.Equal(t, vaultclient.CodeUnauthorized, vaultclient.Code(err), "a logged-out session is refused at once")
}

// rawGet sends a GET with c's token as it is, without the client's path
// escaping.
func rawGet(t *testing.T, h *harness, path string, c *vaultclient.Client) int {
	t.Helper()
	token, err := c.AccessToken(h.ctx())
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, h.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
