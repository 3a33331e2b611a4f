package commands_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/password"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/projections/streams"
)

// timeTravelEnv is the event store, secret and identity handlers over one
// service without read-model waiting (nothing here reads a projection), and
// time travel over them. now is the service's clock.
type timeTravelEnv struct {
	store   *eventstore.Store
	secrets *commands.Secrets
	tt      *commands.TimeTravel
	now     time.Time
}

func newTimeTravelEnv(t *testing.T, keep int) *timeTravelEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	env := &timeTravelEnv{store: store, now: time.Now().Add(time.Hour)}
	svc := commands.NewService(store, nil, discardLogger(), commands.Options{Now: func() time.Time { return env.now }})
	env.secrets, env.tt = timeTravelOver(t, db, svc, newDataKeys(t, db), keep)
	return env
}

// newDataKeys is a local keyring's data key store on the database.
func newDataKeys(t *testing.T, db *pgtest.Database) *keys.Store {
	t.Helper()
	root, err := envelope.NewDataKey()
	require.NoError(t, err)
	kr, err := keys.NewKeyring(context.Background(), db.AppPool, root, discardLogger(), keys.KeyringOptions{})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return keys.NewStore(db.AppPool, kr, discardLogger())
}

// timeTravelOver builds the secret and identity handlers over one service
// and time travel over them.
func timeTravelOver(t *testing.T, db *pgtest.Database, svc *commands.Service, dataKeys *keys.Store, keep int) (*commands.Secrets, *commands.TimeTravel) {
	t.Helper()
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: dataKeys, ReadModel: secrets.NewQuery(db.AppPool), KeyProvider: keys.ProviderLocal, KeepVersions: keep,
	})
	require.NoError(t, err)
	hasher, err := password.New(password.Config{Params: password.Params{Memory: 7168, Iterations: 5, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	require.NoError(t, err)
	ring, err := authtoken.NewKeyring(rand.Text() + rand.Text())
	require.NoError(t, err)
	tokens, err := authtoken.New(ring, authtoken.Config{})
	require.NoError(t, err)
	ident, err := commands.NewIdentity(svc, commands.IdentityDeps{Hasher: hasher, Tokens: tokens, DataKeys: dataKeys}, commands.IdentityOptions{})
	require.NoError(t, err)
	tt, err := commands.NewTimeTravel(sec, ident, streams.NewCatalog(db.AppPool))
	require.NoError(t, err)
	return sec, tt
}

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
		in   commands.AsOf
		want int64
		err  string
	}{
		{"position", commands.AsOf{Position: ptr(1)}, 1, ""},
		{"the head", commands.AsOf{Position: ptr(head)}, head, ""},
		{"zero: before everything", commands.AsOf{Position: ptr(0)}, 0, ""},
		{"time before the first event", commands.AsOf{Time: tm(before)}, 0, ""},
		{"time after the last event", commands.AsOf{Time: tm(e.now)}, head, ""},
		{"beyond the head", commands.AsOf{Position: ptr(head + 1)}, 0, "beyond the head"},
		{"negative", commands.AsOf{Position: ptr(-1)}, 0, "non-negative"},
		{"future by the service clock", commands.AsOf{Time: tm(e.now.Add(time.Second))}, 0, "in the future"},
		{"both", commands.AsOf{Position: ptr(1), Time: tm(before)}, 0, "not both"},
		{"neither", commands.AsOf{}, 0, "as_of or at_position"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, err := e.tt.Resolve(ctx, tc.in)
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

	vs, err := e.tt.SecretVersionsAt(ctx, admin(), id, commands.Instant{Position: created})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, domain.SecretVersionStateActive, vs[0].State)

	vs, err = e.tt.SecretVersionsAt(ctx, admin(), id, commands.Instant{Position: rotated})
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, domain.SecretVersionStateDestroyed, vs[0].State)
	require.Equal(t, domain.DestroyRetention, vs[0].DestroyReason)
	require.NotNil(t, vs[0].DestroyedAt)
	require.Equal(t, domain.SecretVersionStateActive, vs[1].State)

	page, err := e.tt.SecretHistory(ctx, admin(), id, commands.HistoryInput{Cursor: created}, commands.Instant{Position: rotated})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, domain.EventSecretVersionAdded, page.Items[0].Type)
	require.Equal(t, map[string]commands.Change{
		"current_version": {From: int64(1), To: int64(2)}, "versions.2": {From: nil, To: "active"},
	}, page.Items[0].Changes)
	require.Equal(t, domain.EventSecretVersionDestroyed, page.Items[1].Type)
	require.Equal(t, map[string]commands.Change{"versions.1": {From: "active", To: "destroyed"}}, page.Items[1].Changes)

	d, err := e.tt.SecretDiff(ctx, admin(), id, commands.SecretDiffInput{From: commands.AsOf{Position: &created}})
	require.NoError(t, err)
	require.True(t, d.Existed)
	require.Len(t, d.VersionsAdded, 1)
	require.Equal(t, int64(2), d.VersionsAdded[0].Version)
	require.Len(t, d.VersionsDestroyed, 1)
	require.Equal(t, domain.DestroyRetention, d.VersionsDestroyed[0].DestroyReason)

	// Access is decided by the caller's current policies.
	_, err = e.tt.SecretAt(ctx, caller(allow("secrets/other", "read")), id, commands.Instant{Position: rotated})
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err))
	_, err = e.tt.SecretAt(ctx, commands.Caller{}, id, commands.Instant{Position: rotated})
	require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
}
