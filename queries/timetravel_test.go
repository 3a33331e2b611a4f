package queries_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/queries"
)

// timeTravelEnv is the event store, the secret commands over one service
// without read-model waiting (nothing here reads a projection), and the read
// side over the log. now is the services' clock.
type timeTravelEnv struct {
	store   *eventstore.Store
	secrets *commands.Secrets
	reads   vaulttest.Reads
	now     time.Time
}

func newTimeTravelEnv(t *testing.T, keep int) *timeTravelEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	env := &timeTravelEnv{store: store, now: time.Now().Add(time.Hour)}
	clock := func() time.Time { return env.now }
	svc := commands.NewService(store, nil, discardLogger(), commands.Options{Now: clock})
	env.secrets = vaulttest.SecretCommands(t, db, svc, keep)
	env.reads = vaulttest.NewReads(t, db, store, nil, nil, queries.Options{Now: clock})
	return env
}

// atPos asks for the state at a log position.
func atPos(pos int64) queries.At { return queries.At{Position: &pos} }

// cursorAt is the history cursor of a page that ended at pos (none for 0).
func cursorAt(pos int64) string {
	if pos == 0 {
		return ""
	}
	return domain.EncodePositionCursor(pos)
}

// value drops the instant of a read's answer.
func value[T any](r queries.Result[T], err error) (T, error) { return r.Value, err }

func (e *timeTravelEnv) head(t *testing.T) int64 {
	t.Helper()
	pos, err := e.store.HeadPosition(context.Background())
	require.NoError(t, err)
	return pos
}

func TestTimeTravelResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTimeTravelEnv(t, 0)
	before := time.Now().Add(-time.Hour)
	e.create(t)
	head := e.head(t)
	ptr := func(n int64) *int64 { return &n }
	tm := func(t time.Time) *time.Time { return &t }

	cases := []struct {
		name string
		in   queries.At
		want int64
		err  string
	}{
		{"position", queries.At{Position: ptr(1)}, 1, ""},
		{"the head", queries.At{Position: ptr(head)}, head, ""},
		{"zero: before everything", queries.At{Position: ptr(0)}, 0, ""},
		{"time before the first event", queries.At{Time: tm(before)}, 0, ""},
		{"time after the last event", queries.At{Time: tm(e.now)}, head, ""},
		{"beyond the head", queries.At{Position: ptr(head + 1)}, 0, "beyond the head"},
		{"negative", queries.At{Position: ptr(-1)}, 0, "non-negative"},
		{"future by the service clock", queries.At{Time: tm(e.now.Add(time.Second))}, 0, "in the future"},
		{"both", queries.At{Position: ptr(1), Time: tm(before)}, 0, "not both"},
		{"neither", queries.At{}, 0, "as_of or at_position"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, err := e.reads.Service.Resolve(ctx, tc.in)
			if tc.err != "" {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%v", err)
				require.Contains(t, domain.ErrorMessage(err), tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, at.Position)
			require.Equal(t, tc.in.Time != nil, at.Time != nil)
		})
	}
}

// create makes secret tt/a with value v1 and returns its id.
func (e *timeTravelEnv) create(t *testing.T) string {
	t.Helper()
	res, err := e.secrets.CreateSecret(context.Background(), admin(), commands.CreateSecretInput{Name: "tt/a", Value: []byte("value-one-canary")})
	require.NoError(t, err)
	return res.Secret.ID
}

// Rotation past the retention count destroys the oldest version in the same
// append: history, versions and diff must tell the two events apart and name
// the reason.
func TestTimeTravelRetentionInOneAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTimeTravelEnv(t, 1)
	id := e.create(t)
	created := e.head(t)
	_, err := e.secrets.RotateSecret(ctx, admin(), commands.RotateSecretInput{ID: id, Value: []byte("value-two-canary")})
	require.NoError(t, err)
	rotated := e.head(t)

	vs, err := value(e.reads.Secrets.Versions(ctx, admin(), id, atPos(created)))
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, domain.SecretVersionStateActive, vs[0].State)

	vs, err = value(e.reads.Secrets.Versions(ctx, admin(), id, atPos(rotated)))
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, domain.SecretVersionStateDestroyed, vs[0].State)
	require.Equal(t, domain.DestroyRetention, vs[0].DestroyReason)
	require.NotNil(t, vs[0].DestroyedAt)
	require.Equal(t, domain.SecretVersionStateActive, vs[1].State)

	page, err := e.reads.Secrets.History(ctx, admin(), id, queries.HistoryInput{Cursor: cursorAt(created)}, atPos(rotated))
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, domain.EventSecretVersionAdded, page.Items[0].Type)
	require.Equal(t, map[string]queries.Change{
		"current_version": {From: int64(1), To: int64(2)}, "versions.2": {From: nil, To: "active"},
	}, page.Items[0].Changes)
	require.Equal(t, domain.EventSecretVersionDestroyed, page.Items[1].Type)
	require.Equal(t, map[string]queries.Change{"versions.1": {From: "active", To: "destroyed"}}, page.Items[1].Changes)

	d, err := e.reads.Secrets.Diff(ctx, admin(), id, queries.SecretDiffInput{From: queries.At{Position: &created}})
	require.NoError(t, err)
	require.True(t, d.Existed)
	require.Len(t, d.VersionsAdded, 1)
	require.Equal(t, int64(2), d.VersionsAdded[0].Version)
	require.Len(t, d.VersionsDestroyed, 1)
	require.Equal(t, domain.DestroyRetention, d.VersionsDestroyed[0].DestroyReason)

	// Access is decided by the caller's current policies.
	_, err = value(e.reads.Secrets.Get(ctx, caller(allow("secrets/other", "read")), id, atPos(rotated)))
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err))
	_, err = value(e.reads.Secrets.Get(ctx, domain.Caller{}, id, atPos(rotated)))
	require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
}
