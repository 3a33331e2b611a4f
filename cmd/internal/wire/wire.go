// Package wire holds the wiring vaultd and vaultctl share, so both see the
// same projections and the same event upcasters.
package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/password"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/audit"
	"github.com/securevault/vault/projections/identity"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/projections/serviceaccounts"
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/queries"
	vaultsql "github.com/securevault/vault/sql"
)

// Projections is every read model the vault maintains.
func Projections() []projections.Projection {
	return []projections.Projection{streams.New(), identity.New(), secrets.New(), audit.New(), serviceaccounts.New()}
}

// Upcasters gathers the event store upcasters of every registry.
func Upcasters() map[string]eventstore.Upcaster {
	out := make(map[string]eventstore.Upcaster)
	for _, reg := range domain.Registries() {
		for typ, up := range reg.StoreUpcasters() {
			out[typ] = up
		}
	}
	return out
}

// defaultMaxConns sizes the connection pool of each process.
const defaultMaxConns = 24

// OpenDatabase applies pending migrations as the role DATABASE_URL connects
// as (the schema's owner) and returns the pool everything else uses, whose
// connections run as the least-privileged vault_app role: they may append
// to the log but never change, delete or truncate it, nor move the chain
// head back. The owner's connection is closed once migrations are done.
// tracer, when not nil, sees every statement of the pool (vaultd counts
// them with a pgtrace.Counter).
func OpenDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	if err := Migrate(ctx, cfg.DatabaseURL, logger); err != nil {
		return nil, err
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", config.EnvDatabaseURL, err)
	}
	// pgxpool's default (4 connections on a 2-core machine) is shared by the
	// request handlers, every projection, the relay, the checkpoint signer and
	// the group-commit writer, which starves requests under load. An explicit
	// pool_max_conns in DATABASE_URL still wins.
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		poolCfg.MaxConns = defaultMaxConns
	}
	vaultsql.UseAppRole(poolCfg)
	if tracer != nil {
		poolCfg.ConnConfig.Tracer = tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", config.EnvDatabaseURL, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s as %s: %w", config.EnvDatabaseURL, vaultsql.AppRole, err)
	}
	return pool, nil
}

// Migrate applies pending migrations over a short-lived pool of the role
// databaseURL connects as. With nothing pending any role that may read
// goose's table (a member of vault_app) passes, so vaultd can connect as a
// login role that does not own the schema once `vaultctl migrate` ran as
// the owner; with migrations pending such a role is told to do that.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	ownerCfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", config.EnvDatabaseURL, err)
	}
	ownerCfg.MaxConns = 2 // goose holds one for its lock, runs on another
	owner, err := pgxpool.NewWithConfig(ctx, ownerCfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", config.EnvDatabaseURL, err)
	}
	defer owner.Close()
	if err := owner.Ping(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", config.EnvDatabaseURL, err)
	}
	err = vaultsql.Migrate(ctx, owner, logger)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("%w: the role %s connects as (user %q) may not change the schema; apply the migrations as the schema's owner first (`vaultctl migrate` with the owner's %s)",
			err, config.EnvDatabaseURL, ownerCfg.ConnConfig.User, config.EnvDatabaseURL)
	}
	return err
}

// ChainKeys is the event log's chain key set from the configuration.
func ChainKeys(cfg *config.Config) (*eventstore.ChainKeys, error) {
	previous := make([][]byte, 0, len(cfg.ChainKeysPrevious))
	for _, k := range cfg.ChainKeysPrevious {
		previous = append(previous, k.Bytes())
	}
	keys, err := eventstore.NewChainKeys(cfg.ChainKey.Bytes(), previous...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvChainKey, err)
	}
	return keys, nil
}

// OpenStore opens the event store with the configured chain keys and the
// upcasters of every aggregate; alarm may be nil (vaultctl).
func OpenStore(cfg *config.Config, pool *pgxpool.Pool, logger *slog.Logger, opts eventstore.Options) (*eventstore.Store, error) {
	keys, err := ChainKeys(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Upcasters == nil {
		opts.Upcasters = Upcasters()
	}
	return eventstore.New(pool, keys, logger, opts), nil
}

// OpenKeys picks the key-encryption-key provider: AWS KMS when KMS_KEY_ID is
// set, otherwise the local keyring under ENCRYPTION_KEY (returned too, for
// rotation; nil with KMS).
func OpenKeys(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, logger *slog.Logger) (keys.Provider, *keys.Keyring, error) {
	if cfg.KMSKeyID != "" {
		kms, err := keys.NewKMS(ctx, keys.KMSConfig{KeyID: cfg.KMSKeyID, Region: cfg.AWSRegion, Endpoint: cfg.KMSEndpoint}, logger)
		if err != nil {
			return nil, nil, err
		}
		return kms, nil, nil
	}
	kr, err := keys.NewKeyring(ctx, pool, cfg.EncryptionKey.Bytes(), logger, keys.KeyringOptions{})
	if err != nil {
		if !cfg.Production() && cfg.DevKeysFile != "" && domain.ErrorCode(err) == domain.EINVALID {
			// The dev keys at hand are not this database's: say how to
			// start over rather than leave a newcomer stuck.
			return nil, nil, fmt.Errorf("%w (dev keys from %s; `%s` drops the dev database and its dev state to start over)",
				err, cfg.DevKeysFile, config.DevResetCommand)
		}
		return nil, nil, err
	}
	return kr, kr, nil
}

// Tokens is the JWT manager of the configuration's signing keys: the
// identity commands issue tokens with it, the authenticator verifies them.
func Tokens(cfg *config.Config) (*authtoken.Manager, error) {
	previous := make([]string, 0, len(cfg.SecretKeysPrevious))
	for _, k := range cfg.SecretKeysPrevious {
		previous = append(previous, string(k.Bytes()))
	}
	keyring, err := authtoken.NewKeyring(string(cfg.SecretKey.Bytes()), previous...)
	if err != nil {
		return nil, err
	}
	return authtoken.New(keyring, authtoken.Config{AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL})
}

// NewIdentity builds the identity handlers (password hashing, tokens, login
// limits) from the configuration. dataKeys seals password hashes; users
// lists user streams for the one-time upgrade of older stores.
func NewIdentity(svc *commands.Service, cfg *config.Config, dataKeys *keys.Store, users commands.StreamCatalog) (*commands.Identity, error) {
	argonErr := func(err error) error {
		return fmt.Errorf("%s, %s, %s: %w", config.EnvArgon2MemoryKiB, config.EnvArgon2Iterations, config.EnvArgon2Parallelism, err)
	}
	params, err := password.ParamsFromInts(cfg.Argon2MemoryKiB, cfg.Argon2Iterations, cfg.Argon2Parallelism)
	if err != nil {
		return nil, argonErr(err)
	}
	if cfg.TestMode {
		// The cheapest profile OWASP accepts: 7 MiB at t=5.
		params.Memory, params.Iterations, params.Parallelism = 7168, 5, 1
	}
	hasher, err := password.New(password.Config{Params: params})
	if err != nil {
		return nil, argonErr(err)
	}
	tokens, err := Tokens(cfg)
	if err != nil {
		return nil, err
	}
	return commands.NewIdentity(svc, commands.IdentityDeps{Hasher: hasher, Tokens: tokens, DataKeys: dataKeys, Users: users}, commands.IdentityOptions{
		PasswordPolicy: domain.PasswordPolicy{MinLength: cfg.PasswordMinLength, MaxLength: domain.DefaultPasswordPolicy().MaxLength},
		Lockout: domain.LockoutPolicy{
			Threshold: cfg.LockoutThreshold, Base: cfg.LockoutBase, Max: cfg.LockoutMax,
			AccountThreshold: cfg.LockoutAccountThreshold, AccountWindow: cfg.LockoutAccountWindow,
		},
		LoginIPRate:       cfg.LoginIPRate,
		LoginIPBurst:      cfg.LoginIPBurst,
		LoginAccountRate:  cfg.LoginAccountRate,
		LoginAccountBurst: cfg.LoginAccountBurst,
		Clients: commands.ClientOptions{
			TokenTTL: cfg.ClientTokenTTL, IPRate: cfg.ClientTokenIPRate, IPBurst: cfg.ClientTokenIPBurst,
			ClientRate: cfg.ClientTokenClientRate, ClientBurst: cfg.ClientTokenClientBurst,
		},
	})
}

// Snapshots lets the command side and the read side cache folded
// aggregates in the event store's snapshots by position.
func Snapshots(store *eventstore.Store) fold.SnapshotStore { return store }

// Queries is the read side over the read models of db, as vaultd serves it
// (the status query, which reads vaultd's own pipelines, aside).
type Queries struct {
	Service       *queries.Service
	Secrets       *queries.Secrets
	Identity      *queries.Identity
	Audit         *queries.Audit
	Authenticator *queries.Authenticator
	// ServiceAccounts reads service accounts and their credentials.
	ServiceAccounts *queries.ServiceAccounts
}

// NewQueries wires the queries over svc to the projections' readers on db;
// tokens verifies access tokens, against view (nil: folded from the log per
// request), which also tells when a secret's row held in memory is still
// current (nil: every read reads the read model).
func NewQueries(svc *queries.Service, db *pgxpool.Pool, tokens queries.AccessTokens, view *fold.View) (Queries, error) {
	var (
		identityView queries.IdentityView
		positions    queries.StreamPositions
	)
	if view != nil {
		identityView, positions = view, view
	}
	catalog := streams.NewCatalog(db)
	q := Queries{Service: svc}
	var err error
	if q.Secrets, err = queries.NewSecrets(svc, secrets.NewQuery(db), catalog, positions); err != nil {
		return Queries{}, err
	}
	if q.Identity, err = queries.NewIdentity(svc, identity.NewReader(db), catalog); err != nil {
		return Queries{}, err
	}
	if q.Audit, err = queries.NewAudit(svc, audit.NewReader(db)); err != nil {
		return Queries{}, err
	}
	if q.Authenticator, err = queries.NewAuthenticator(svc, tokens, identityView); err != nil {
		return Queries{}, err
	}
	if q.ServiceAccounts, err = queries.NewServiceAccounts(svc, serviceaccounts.NewReader(db), catalog); err != nil {
		return Queries{}, err
	}
	return q, nil
}

// IdentityView is the in-memory identity state of one replica over store:
// sessions, users, roles and policies, as authentication reads them, and
// the position of each secret stream's last event, which proves a secret's
// row held in memory current (queries.StreamPositions).
func IdentityView(store *eventstore.Store, latch fold.Tripped, logger *slog.Logger) *fold.View {
	kinds := append(fold.IdentityKinds(), fold.PositionsOf(domain.SecretAggregate))
	return fold.NewView(store, latch, logger, kinds...)
}
