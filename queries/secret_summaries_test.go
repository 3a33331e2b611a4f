package queries_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/queries"
)

// countingReader counts the rows read from the secrets read model.
type countingReader struct {
	queries.SecretReader
	gets atomic.Int64
}

func (c *countingReader) Get(ctx context.Context, id string) (domain.SecretSummary, error) {
	c.gets.Add(1)
	return c.SecretReader.Get(ctx, id)
}

// TestSecretMetadataFromMemoryIsTheReadModels: a secret's row read again
// while its stream has not moved is answered from memory, and only then.
// Every answer is the one reading the read model gives: a rotation, an
// edit or a delete committed before a request is in its answer, whether
// the request's position comes from the view it was authenticated
// against or from the client's minimum (which the view may not have
// reached: then the row is read), and the caller's policies still decide.
func TestSecretMetadataFromMemoryIsTheReadModels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newReadEnv(t)
	view := fold.NewView(e.store, nil, discardLogger(), fold.PositionsOf(domain.SecretAggregate))
	reader := &countingReader{SecretReader: secrets.NewQuery(e.db.AppPool)}
	q, err := queries.NewSecrets(e.reads.Service, reader, nil, view)
	require.NoError(t, err)

	// decided is a caller authenticated now: its principal decided at the
	// view's position, which a Read proves to be at least the head.
	decided := func(c domain.Caller) domain.Caller {
		t.Helper()
		require.NoError(t, view.Read(ctx, func(s fold.State) error { c.Principal.DecidedAt = s.Position(); return nil }))
		return c
	}
	sec := e.create(t, "memory/db", "v1", "team")
	get := func(c domain.Caller, at queries.At) domain.SecretSummary {
		t.Helper()
		res, err := q.Get(ctx, c, sec.ID, at)
		require.NoError(t, err)
		return res.Value
	}
	readModel := func() domain.SecretSummary {
		t.Helper()
		row, err := reader.SecretReader.Get(ctx, sec.ID)
		require.NoError(t, err)
		return row
	}
	reads := func() int64 { return reader.gets.Load() }

	first := get(decided(admin()), queries.At{})
	require.Equal(t, readModel(), first)
	require.Equal(t, int64(1), reads())
	require.Equal(t, first, get(decided(admin()), queries.At{}), "unchanged: the same row")
	require.Equal(t, int64(1), reads(), "unchanged: answered from memory")

	_, err = e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: sec.ID, Value: []byte("v2")})
	require.NoError(t, err)
	got := get(decided(admin()), queries.At{})
	require.Equal(t, int64(2), got.CurrentVersion, "a rotation before the request is in its answer")
	require.Equal(t, readModel(), got)
	require.Equal(t, int64(2), reads())
	require.Equal(t, got, get(decided(admin()), queries.At{}))
	require.Equal(t, int64(2), reads())

	// A caller decided before the next rotation but sending its position
	// as the minimum: the view has not read that far, so the row is read.
	before := decided(admin())
	rotated, err := e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: sec.ID, Value: []byte("v3")})
	require.NoError(t, err)
	got = get(before, queries.At{MinPosition: rotated.Written.Position})
	require.Equal(t, int64(3), got.CurrentVersion, "the client's minimum position is honoured")
	require.Equal(t, int64(3), reads())

	description := "moved"
	_, err = e.secrets.UpdateSecret(ctx, admin(), commands.UpdateSecretInput{ID: sec.ID, Description: &description})
	require.NoError(t, err)
	got = get(decided(admin()), queries.At{})
	require.Equal(t, "moved", got.Description)
	require.Equal(t, readModel(), got)

	// The row held in memory never decides access: the caller's policies do.
	_, err = q.Get(ctx, decided(caller(deny("read", "secrets/memory/**"), allow("read", "secrets/**"))), sec.ID, queries.At{})
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err), "%v", err)

	_, err = e.secrets.DeleteSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	got = get(decided(admin()), queries.At{})
	require.Equal(t, domain.SecretStateDeleted, got.State, "a delete before the request is in its answer")
	require.Equal(t, readModel(), got)

	// A caller whose principal carries no position waits for the head of
	// the log, which the view has not read past: the row is read, and it
	// shows the restore committed just before.
	_, err = e.secrets.RestoreSecret(ctx, admin(), sec.ID)
	require.NoError(t, err)
	n := reads()
	got = get(admin(), queries.At{})
	require.Equal(t, domain.SecretStateActive, got.State, "a restore before the request is in its answer")
	require.Equal(t, readModel(), got)
	require.Equal(t, n+1, reads())
}
