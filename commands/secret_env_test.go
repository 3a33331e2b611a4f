package commands_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/secrets"
)

// secretEnv is the real stack behind the secret commands: one database, the
// event store, the secrets projection running, the local keyring and the
// data-key store.
type secretEnv struct {
	db      *pgtest.Database
	store   *eventstore.Store
	keys    *keys.Store
	secrets *commands.Secrets
}

type envOptions struct {
	keep int
	// wrap lets a test put a fault injector around the real store.
	wrap func(commands.EventLog) commands.EventLog
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSecretEnv(t *testing.T, opts envOptions) *secretEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})

	listener := pgnotify.NewListener(db.URL, discardLogger())
	listenDone := make(chan struct{})
	go func() { defer close(listenDone); _ = listener.Run(ctx) }()

	runner, err := projections.NewRunner(db.AppPool, store, listener, discardLogger(),
		projections.Options{PollInterval: 100 * time.Millisecond}, secrets.New())
	require.NoError(t, err)
	runDone := make(chan error, 1)
	go func() { runDone <- runner.Run(ctx) }()

	root, err := envelope.NewDataKey()
	require.NoError(t, err)
	kr, err := keys.NewKeyring(ctx, db.AppPool, root, discardLogger(), keys.KeyringOptions{})
	require.NoError(t, err)
	dataKeys := keys.NewStore(db.AppPool, kr, discardLogger())

	var log commands.EventLog = store
	if opts.wrap != nil {
		log = opts.wrap(store)
	}
	// A generous read-your-writes bound: tests assert on read models right
	// after a command, and a 202 would make them flaky on a busy machine.
	svc := commands.NewService(log, projections.NewWaiter(db.AppPool, listener, 50*time.Millisecond), discardLogger(),
		commands.Options{ReadYourWritesTimeout: 30 * time.Second})
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: dataKeys, ReadModel: secrets.NewQuery(db.AppPool), KeyProvider: keys.ProviderLocal, KeepVersions: opts.keep,
	})
	require.NoError(t, err)

	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-runDone)
		<-listenDone
		store.Close()
		kr.Close()
	})
	return &secretEnv{db: db, store: store, keys: dataKeys, secrets: sec}
}

// caller returns an authenticated caller whose only policy is statements.
func caller(statements ...domain.Statement) commands.Caller {
	return commands.Caller{
		Principal: commands.Principal{
			UserID: domain.NewID(), Username: "tester",
			Policies: []domain.PolicyView{{ID: domain.NewID(), Name: "test", Statements: statements}},
		},
		ClientIP: "192.0.2.7", UserAgent: "secret-tests", RequestID: "req-1",
	}
}

func allow(resource string, actions ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectAllow, Actions: actions, Resources: []string{resource}}
}

func deny(resource string, actions ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectDeny, Actions: actions, Resources: []string{resource}}
}

// admin may do anything to any secret.
func admin() commands.Caller { return caller(allow("secrets/**", "*")) }

func (e *secretEnv) create(t *testing.T, name, value string, tags ...string) domain.SecretSummary {
	t.Helper()
	res, err := e.secrets.CreateSecret(context.Background(), admin(), commands.CreateSecretInput{
		Name: name, Value: []byte(value), Tags: tags,
	})
	require.NoError(t, err)
	require.False(t, res.Written.Pending)
	return res.Secret
}

func (e *secretEnv) reveal(t *testing.T, id string, version int64) string {
	t.Helper()
	rev, _, err := e.secrets.RevealSecret(context.Background(), admin(), id, version)
	require.NoError(t, err)
	return string(rev.Value)
}

func (e *secretEnv) stream(t *testing.T, streamID string) []domain.RecordedEvent {
	t.Helper()
	events, err := e.store.ReadStream(context.Background(), streamID, 0, 10_000)
	require.NoError(t, err)
	return events
}

func (e *secretEnv) eventTypes(t *testing.T, streamID string) []string {
	t.Helper()
	var out []string
	for _, ev := range e.stream(t, streamID) {
		out = append(out, ev.Type)
	}
	return out
}

// failAppends fails every append that touches a stream with the prefix,
// and passes everything else to the real store.
type failAppends struct {
	commands.EventLog
	prefix string
}

func (f failAppends) AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error) {
	for _, a := range appends {
		if strings.HasPrefix(a.StreamID, f.prefix) {
			return domain.AppendResult{}, domain.Errorf(domain.EUNAVAILABLE, "injected failure")
		}
	}
	return f.EventLog.AppendStreams(ctx, appends...)
}
