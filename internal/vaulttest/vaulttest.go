// Package vaulttest builds the parts of the vault that tests of several
// packages share, over a real database: the projections running behind a
// waiter, the read side over their read models, a data key store, and
// callers holding given statements. Tests only; no product code imports it.
package vaulttest

import (
	"context"
	"errors"
	"io"
	"log/slog"
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
	"github.com/securevault/vault/projections/audit"
	"github.com/securevault/vault/projections/identity"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/queries"
)

// Logger discards everything.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Allow is a statement allowing actions on resource.
func Allow(resource string, actions ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectAllow, Actions: actions, Resources: []string{resource}}
}

// Deny is a statement denying actions on resource.
func Deny(resource string, actions ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectDeny, Actions: actions, Resources: []string{resource}}
}

// Caller is an authenticated caller whose only policy is statements.
func Caller(statements ...domain.Statement) domain.Caller {
	return domain.Caller{
		Principal: domain.Principal{
			UserID: domain.NewID(), Username: "tester",
			Policies: []domain.PolicyView{{ID: domain.NewID(), Name: "test", Statements: statements}},
		},
		ClientIP: "192.0.2.7", UserAgent: "secret-tests", RequestID: "req-1",
	}
}

// SecretAdmin may do anything to any secret.
func SecretAdmin() domain.Caller { return Caller(Allow("secrets/**", "*")) }

// DataKeys is the data key store over a local keyring with a fresh root
// key, as vaultd runs it without KMS.
func DataKeys(t testing.TB, db *pgtest.Database) *keys.Store {
	t.Helper()
	root, err := envelope.NewDataKey()
	require.NoError(t, err)
	kr, err := keys.NewKeyring(context.Background(), db.AppPool, root, Logger(), keys.KeyringOptions{})
	require.NoError(t, err)
	t.Cleanup(kr.Close)
	return keys.NewStore(db.AppPool, kr, Logger())
}

// RunProjections runs ps over store until the test ends, logging to logger
// (nil: nowhere), and returns the waiter on their checkpoints.
func RunProjections(t testing.TB, db *pgtest.Database, store *eventstore.Store, logger *slog.Logger, opts projections.Options, ps ...projections.Projection) *projections.Waiter {
	t.Helper()
	if logger == nil {
		logger = Logger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	listener := pgnotify.NewListener(db.URL, Logger())
	listenDone := make(chan struct{})
	go func() { defer close(listenDone); _ = listener.Run(ctx) }()
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	runner, err := projections.NewRunner(db.AppPool, store, listener, logger, opts, ps...)
	require.NoError(t, err)
	runDone := make(chan error, 1)
	go func() { runDone <- runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("projection runner: %v", err)
		}
		<-listenDone
	})
	waiter := projections.NewWaiter(db.AppPool, listener, 50*time.Millisecond)
	waiter.Selective(runner.Selective())
	return waiter
}

// Reads is the read side over one log and the read models of one
// database, as vaultd wires it.
type Reads struct {
	Service  *queries.Service
	Secrets  *queries.Secrets
	Identity *queries.Identity
	Audit    *queries.Audit
}

// NewReads builds the read side over log and db's read models, logging to
// logger (nil: nowhere); waiter may be nil (reads never wait for a read
// model). Without a MinPositionTimeout a read waits up to 30 seconds for
// its read model: writes do not wait, so the read after one does, and a
// loaded CI machine must not turn that into a flake.
func NewReads(t testing.TB, db *pgtest.Database, log queries.Log, waiter queries.ReadModelWaiter, logger *slog.Logger, opts queries.Options) Reads {
	t.Helper()
	if opts.MinPositionTimeout == 0 {
		opts.MinPositionTimeout = 30 * time.Second
	}
	if logger == nil {
		logger = Logger()
	}
	svc := queries.NewService(log, waiter, logger, opts)
	catalog := streams.NewCatalog(db.AppPool)
	r := Reads{Service: svc}
	var err error
	r.Secrets, err = queries.NewSecrets(svc, secrets.NewQuery(db.AppPool), catalog, nil)
	require.NoError(t, err)
	r.Identity, err = queries.NewIdentity(svc, identity.NewReader(db.AppPool), catalog)
	require.NoError(t, err)
	r.Audit, err = queries.NewAudit(svc, audit.NewReader(db.AppPool))
	require.NoError(t, err)
	return r
}

// SecretCommands is the secret command set over svc, with a fresh data key
// store on db and the secrets read model to answer writes with; keep is
// how many versions a secret keeps (0: the default).
func SecretCommands(t testing.TB, db *pgtest.Database, svc *commands.Service, keep int) *commands.Secrets {
	t.Helper()
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: DataKeys(t, db), ReadModel: secrets.NewQuery(db.AppPool), KeyProvider: keys.ProviderLocal, KeepVersions: keep,
	})
	require.NoError(t, err)
	return sec
}
