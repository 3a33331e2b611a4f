package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/queries"
)

// secretEnv is the real stack behind the secret commands: one database, the
// event store, the secrets projection running, the local keyring and the
// data-key store, and the secret queries to see what the commands did.
type secretEnv struct {
	db      *pgtest.Database
	store   *eventstore.Store
	keys    *keys.Store
	secrets *commands.Secrets
	reads   *queries.Secrets
	waiter  commands.ReadModelWaiter
}

type envOptions struct {
	keep int
	// wrap lets a test put a fault injector around the real store.
	wrap func(commands.EventLog) commands.EventLog
}

// The callers and statements the tests use.
var (
	caller = vaulttest.Caller
	allow  = vaulttest.Allow
	deny   = vaulttest.Deny
	admin  = vaulttest.SecretAdmin
)

func newSecretEnv(t *testing.T, opts envOptions) *secretEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), vaulttest.Logger(), eventstore.Options{})
	t.Cleanup(store.Close)
	waiter := vaulttest.RunProjections(t, db, store, nil, projections.Options{}, secrets.New())
	dataKeys := vaulttest.DataKeys(t, db)

	var log commands.EventLog = store
	if opts.wrap != nil {
		log = opts.wrap(store)
	}
	// A generous read-your-writes bound: tests assert on read models right
	// after a command, and a 202 would make them flaky on a busy machine.
	svc := commands.NewService(log, waiter, vaulttest.Logger(), commands.Options{ReadYourWritesTimeout: 30 * time.Second})
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: dataKeys, ReadModel: secrets.NewQuery(db.AppPool), KeyProvider: keys.ProviderLocal, KeepVersions: opts.keep,
	})
	require.NoError(t, err)
	reads := vaulttest.NewReads(t, db, store, waiter, nil, queries.Options{})
	return &secretEnv{db: db, store: store, keys: dataKeys, secrets: sec, reads: reads.Secrets, waiter: waiter}
}

// get reads a secret's metadata as caller sees it now.
func (e *secretEnv) get(caller domain.Caller, id string) (domain.SecretSummary, error) {
	res, err := e.reads.Get(context.Background(), caller, id, queries.At{})
	return res.Value, err
}

// versions lists a secret's versions as caller sees them now.
func (e *secretEnv) versions(caller domain.Caller, id string) ([]domain.SecretVersionInfo, error) {
	res, err := e.reads.Versions(context.Background(), caller, id, queries.At{})
	return res.Value, err
}

// list lists secrets as caller sees them now.
func (e *secretEnv) list(caller domain.Caller, in queries.SecretListInput) (queries.Page[domain.SecretSummary], error) {
	return e.reads.List(context.Background(), caller, in, queries.At{})
}

func (e *secretEnv) create(t *testing.T, name, value string, tags ...string) domain.SecretSummary {
	t.Helper()
	res, err := e.secrets.CreateSecret(context.Background(), admin(), commands.CreateSecretInput{
		Name: name, Value: []byte(value), Tags: tags,
	})
	require.NoError(t, err)
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
