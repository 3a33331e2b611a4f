package commands_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// TestWriteAnswersEqualTheReadModel: every secret write answers with the
// row a read sent after it shows, byte for byte as JSON, though the answer
// is built from the aggregate and never reads the read model: created and
// updated stamps (each write by another actor), versions, counts under
// retention, tags, state. A second rotation served from the command
// cache answers correctly too.
func TestWriteAnswersEqualTheReadModel(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{keep: 2})
	ctx := context.Background()
	created, err := e.secrets.CreateSecret(ctx, admin(), commands.CreateSecretInput{
		Name: "answers/db", Value: []byte("v1"), Description: "first", Tags: []string{"env:prod"},
	})
	require.NoError(t, err)
	id := created.Secret.ID
	description, tags := "second", []string{"team:x"}
	from := int64(2)

	steps := []struct {
		name  string
		write func() (commands.SecretResult, error)
	}{
		{"create", func() (commands.SecretResult, error) { return created, nil }},
		{"rotate", func() (commands.SecretResult, error) {
			return e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: id, Value: []byte("v2")})
		}},
		{"rotate past retention (cached)", func() (commands.SecretResult, error) {
			return e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: id, Value: []byte("v3")})
		}},
		{"rotate generated", func() (commands.SecretResult, error) {
			return e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: id, Generate: &commands.GenerateSpec{Length: 24}})
		}},
		{"update metadata", func() (commands.SecretResult, error) {
			return e.secrets.UpdateSecret(ctx, admin(), commands.UpdateSecretInput{ID: id, Description: &description, Tags: &tags})
		}},
		{"rollback", func() (commands.SecretResult, error) {
			return e.secrets.RollbackSecret(ctx, admin(), commands.RollbackSecretInput{ID: id, FromVersion: from + 1})
		}},
		{"delete", func() (commands.SecretResult, error) { return e.secrets.DeleteSecret(ctx, admin(), id) }},
		{"delete again (nothing to write)", func() (commands.SecretResult, error) { return e.secrets.DeleteSecret(ctx, admin(), id) }},
		{"restore", func() (commands.SecretResult, error) { return e.secrets.RestoreSecret(ctx, admin(), id) }},
	}
	for _, step := range steps {
		res, err := step.write()
		require.NoError(t, err, step.name)
		row, err := e.get(admin(), id)
		require.NoError(t, err, step.name)
		want, err := json.Marshal(row)
		require.NoError(t, err)
		got, err := json.Marshal(res.Secret)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got), step.name)
		require.False(t, res.Secret.UpdatedAt.IsZero(), step.name)
	}
	final, err := e.get(admin(), id)
	require.NoError(t, err)
	require.Equal(t, int64(5), final.CurrentVersion)
	require.Equal(t, int64(2), final.VersionCount)
	require.NotEqual(t, final.CreatedBy, final.UpdatedBy)
	require.Equal(t, domain.SecretStateActive, final.State)
}
