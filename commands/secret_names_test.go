package commands_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/queries"
)

// Secret names used to be case-sensitive, so `Prod/x` and `prod/x` were two
// secrets and a policy on one missed the other. Names now fold to
// lowercase ASCII, in storage, in the name reservation and in matching.
func TestSecretNamesDifferingOnlyInCaseConflict(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	sec := e.create(t, "Prod/DB-Password", "v1")
	require.Equal(t, "prod/db-password", sec.Name, "stored in its canonical form")
	for _, twin := range []string{"prod/db-password", "PROD/DB-PASSWORD", "pRoD/dB-pAsSwOrD"} {
		_, err := e.secrets.CreateSecret(context.Background(), admin(), commands.CreateSecretInput{Name: twin, Value: []byte("v2")})
		require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "%s: %v", twin, err)
	}
	page, err := e.list(admin(), queries.SecretListInput{Prefix: "PROD/"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "the prefix is folded like the names")
}

func TestDenyOnLowercasePatternStopsUppercaseSecretName(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t, envOptions{})
	who := caller(allow("secrets/**", "*"), deny("secrets/team-b/**", "*"))
	_, err := e.secrets.CreateSecret(context.Background(), who, commands.CreateSecretInput{Name: "TEAM-B/y", Value: []byte("v")})
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err), "%v", err)
	sec := e.create(t, "team-b/y", "v")
	_, err = e.get(who, sec.ID)
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err), "%v", err)
	page, err := e.list(who, queries.SecretListInput{})
	require.NoError(t, err)
	require.Empty(t, page.Items)
}

// A secret recorded with capitals before names were folded keeps its name
// and its old-style reservation (the log is never rewritten). It is
// matched by policies in its folded form, and no new secret may take that
// folded form.
func TestLegacyMixedCaseSecretBlocksItsLowercaseTwin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newSecretEnv(t, envOptions{})
	id := domain.NewID()
	md := domain.Metadata{Actor: domain.SystemActor}
	created, err := json.Marshal(domain.SecretCreated{SecretID: id, Name: "Legacy/Name", Tags: []string{}})
	require.NoError(t, err)
	reserved, err := json.Marshal(domain.SecretNameReserved{SecretID: id})
	require.NoError(t, err)
	res, err := e.store.AppendStreams(ctx,
		domain.StreamAppend{StreamID: domain.StreamID(domain.SecretAggregate, id), Expected: domain.ExpectNoStream, Events: []domain.NewEvent{
			{ID: domain.NewID(), Type: domain.EventSecretCreated, SchemaVersion: 1, Data: created, Metadata: md},
		}},
		// The reservation as it was made then: under the name as given.
		domain.StreamAppend{StreamID: domain.SecretNameAggregate + "-Legacy/Name", Expected: domain.ExpectNoStream, Events: []domain.NewEvent{
			{ID: domain.NewID(), Type: domain.EventSecretNameReserved, SchemaVersion: 1, Data: reserved, Metadata: md},
		}},
	)
	require.NoError(t, err)
	require.NoError(t, projections.NewWaiter(e.db.Pool, nil, 10*time.Millisecond).WaitFor(ctx, res.LastPosition, 30*time.Second, domain.ReadModelSecrets))

	legacy, err := e.get(admin(), id)
	require.NoError(t, err)
	require.Equal(t, "Legacy/Name", legacy.Name, "a legacy name is shown as it was recorded")

	for _, twin := range []string{"legacy/name", "LEGACY/NAME", "Legacy/Name"} {
		_, err := e.secrets.CreateSecret(ctx, admin(), commands.CreateSecretInput{Name: twin, Value: []byte("v")})
		require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "%s: %v", twin, err)
		require.Contains(t, domain.ErrorMessage(err), "Legacy/Name")
	}

	denied := caller(allow("secrets/**", "*"), deny("secrets/legacy/**", "read"))
	_, err = e.get(denied, id)
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err), "a folded deny covers the legacy spelling")

	// Other names are untouched by the check.
	e.create(t, "legacy/other", "v")
}
