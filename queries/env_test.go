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
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/queries"
)

// The callers and statements the tests use.
var (
	caller        = vaulttest.Caller
	allow         = vaulttest.Allow
	deny          = vaulttest.Deny
	admin         = vaulttest.SecretAdmin
	discardLogger = vaulttest.Logger
)

// readEnv is the real stack behind the secret queries: the secrets
// projection running, the secret commands to write, and the read side.
type readEnv struct {
	db      *pgtest.Database
	store   *eventstore.Store
	secrets *commands.Secrets
	reads   vaulttest.Reads
}

func newReadEnv(t *testing.T) *readEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	waiter := vaulttest.RunProjections(t, db, store, nil, projections.Options{}, secrets.New())
	// A generous read-your-writes bound: tests read right after a command.
	svc := commands.NewService(store, waiter, discardLogger(), commands.Options{ReadYourWritesTimeout: 30 * time.Second})
	return &readEnv{
		db: db, store: store, secrets: vaulttest.SecretCommands(t, db, svc, 0),
		reads: vaulttest.NewReads(t, db, store, waiter, nil, queries.Options{}),
	}
}

func (e *readEnv) create(t *testing.T, name, value string, tags ...string) domain.SecretSummary {
	t.Helper()
	res, err := e.secrets.CreateSecret(context.Background(), admin(), commands.CreateSecretInput{
		Name: name, Value: []byte(value), Tags: tags,
	})
	require.NoError(t, err)
	return res.Secret
}

// list lists secrets as caller sees them now.
func (e *readEnv) list(caller domain.Caller, in queries.SecretListInput) (queries.Page[domain.SecretSummary], error) {
	return e.reads.Secrets.List(context.Background(), caller, in, queries.At{})
}
