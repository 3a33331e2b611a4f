package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/devstate"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/integrity"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/mail"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/pgtrace"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/queries"
	"github.com/securevault/vault/relay"
	"github.com/securevault/vault/servertls"
	vaultsql "github.com/securevault/vault/sql"
)

// readyLagBound is how far (in events) a projection may trail the head of
// the log while the instance still reports ready.
const readyLagBound = 1000

// app is one vaultd process: every component, wired. Only this package
// knows how the pieces fit together.
type app struct {
	cfg      *config.Config
	logger   *slog.Logger
	terminal io.Writer // where the dev-mode admin password is shown
	registry *prometheus.Registry

	pool     *pgxpool.Pool
	latch    *integrity.Latch
	store    *eventstore.Store
	listener *pgnotify.Listener
	nats     *embeddedNATS
	nc       *nats.Conn
	relay    *relay.Relay
	signer   *checkpoint.Signer
	runner   *projections.Runner
	// identityView is this replica's identity state in memory, which every
	// request authenticates against.
	identityView *fold.View
	waiter       *projections.Waiter
	keyring      *keys.Keyring
	dataKeys     *keys.Store
	// keyProvider names the key-encryption-key provider in each secret
	// version's event.
	keyProvider string
	service     *commands.Service
	identity    *commands.Identity
	secrets     *commands.Secrets
	files       *commands.Files
	server      *api.Server
	// tls serves both listeners' certificate when VAULT_TLS_CERT is set.
	tls *servertls.Reloader
	// mailStore keeps e-mail tokens and deliveries (mail.go).
	mailStore *mail.Store
	mailer    *mail.Consumer
}

func newApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, terminal io.Writer) (_ *app, err error) {
	a := &app{cfg: cfg, logger: logger, terminal: terminal, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if cfg.TLS() {
		// First, so a bad certificate stops start-up before anything else.
		if err := a.openTLS(); err != nil {
			return nil, err
		}
	}
	if !cfg.Production() {
		if err := devstate.EnsureDatabase(ctx, cfg.DatabaseURL, logger); err != nil {
			return nil, err
		}
	}
	if a.pool, err = wire.OpenDatabase(ctx, cfg, logger, pgtrace.New(a.registry)); err != nil {
		return nil, err
	}
	// One latch holds this replica's verdict on the log; every component
	// that checks the log reports to it and stops when it trips.
	a.latch = integrity.NewLatch(logger.With("component", "integrity"), a.registry)
	if a.store, err = wire.OpenStore(cfg, a.pool, logger.With("component", "eventstore"),
		eventstore.Options{Registerer: a.registry, Alarm: a.latch}); err != nil {
		return nil, err
	}
	if err := a.sealLog(ctx); err != nil {
		return nil, err
	}
	a.listener = pgnotify.NewListener(cfg.DatabaseURL, logger.With("component", "pgnotify"))

	if err := a.connectNATS(); err != nil {
		return nil, err
	}
	a.relay, err = relay.New(a.pool, a.store, a.nc, a.listener, logger, a.registry, relay.Config{
		Stream: cfg.JetStreamStream, SubjectPrefix: cfg.SubjectPrefix, Replicas: cfg.JetStreamReplicas, Alarm: a.latch,
		LagBound: readyLagBound,
	})
	if err != nil {
		return nil, err
	}
	a.checkEventStream(ctx)

	key, err := checkpoint.LoadKey(string(cfg.CheckpointKey.Bytes()), cfg.Production(), cfg.StateDir, logger)
	if err != nil {
		return nil, err
	}
	publisher, err := checkpoint.NewJetStreamPublisher(a.nc, cfg.JetStreamStream, cfg.SubjectPrefix, checkpoint.WithReplicas(cfg.JetStreamReplicas))
	if err != nil {
		return nil, err
	}
	a.signer, err = checkpoint.NewSigner(a.pool, a.store, key, publisher, a.listener, logger.With("component", "checkpoint"),
		checkpoint.Config{Deployment: cfg.JetStreamStream, Every: int64(cfg.CheckpointEvery), Interval: cfg.CheckpointInterval, Alarm: a.latch})
	if err != nil {
		return nil, err
	}

	a.runner, err = projections.NewRunner(a.pool, a.store, a.listener, logger.With("component", "projections"),
		projections.Options{Registerer: a.registry, Alarm: a.latch}, wire.Projections()...)
	if err != nil {
		return nil, err
	}
	a.waiter = projections.NewWaiter(a.pool, a.listener, time.Second)

	if err := a.openKeys(ctx); err != nil {
		return nil, err
	}
	a.service = commands.NewService(a.store, a.waiter, logger.With("component", "commands"), commands.Options{
		ReadYourWritesTimeout: cfg.ReadYourWritesTimeout,
		Snapshots:             wire.Snapshots(a.store),
	})
	if a.identity, err = wire.NewIdentity(a.service, cfg, a.dataKeys, streams.NewCatalog(a.pool)); err != nil {
		return nil, err
	}
	if a.secrets, err = commands.NewSecrets(a.service, commands.SecretDeps{
		DataKeys:     a.dataKeys,
		ReadModel:    secrets.NewQuery(a.pool),
		KeyProvider:  a.keyProvider,
		KeepVersions: cfg.SecretKeepVersions,
	}); err != nil {
		return nil, err
	}
	if err := a.bootstrap(ctx); err != nil {
		if !a.latch.Tripped() {
			return nil, err
		}
		// A tampered log: serve /readyz and /metrics saying so rather than
		// refuse to start, which would hide the position from the operator.
		logger.Error("admin bootstrap skipped: the event log failed its integrity check", "error", err)
	}

	tokens, err := wire.Tokens(cfg)
	if err != nil {
		return nil, err
	}
	reads := queries.NewService(a.store, a.waiter, logger.With("component", "queries"), queries.Options{
		Snapshots:          wire.Snapshots(a.store),
		MinPositionTimeout: cfg.MinPositionTimeout,
		CatalogTimeout:     cfg.ReadYourWritesTimeout,
	})
	a.identityView = wire.IdentityView(a.store, a.latch, logger.With("component", "identity-view"))
	qs, err := wire.NewQueries(reads, a.pool, tokens, a.identityView)
	if err != nil {
		return nil, err
	}
	a.server, err = api.New(api.Config{
		MaxBodyBytes:   cfg.MaxBodyBytes,
		TrustedProxies: cfg.TrustedProxies,
		RateLimitRPS:   cfg.RateLimitRPS,
		RateLimitBurst: cfg.RateLimitBurst,
		// With VAULT_METRICS_ADDR the API listener no longer serves /metrics.
		MetricsOnOwnListener: cfg.MetricsAddr != "",
	}, api.Deps{
		Logger:        logger.With("component", "http"),
		Registerer:    a.registry,
		Gatherer:      a.registry,
		ReadyChecks:   a.readyChecks(),
		Authenticator: qs.Authenticator,
	})
	if err != nil {
		return nil, err
	}
	status, err := queries.NewStatus(reads, a.status)
	if err != nil {
		return nil, err
	}
	a.server.MountStatus(api.StatusDeps{Queries: status})
	a.server.MountIdentity(api.IdentityDeps{Commands: a.identity, Queries: qs.Identity})
	if err := a.openMail(api.IdentityDeps{Commands: a.identity, Queries: qs.Identity}); err != nil {
		return nil, err
	}
	a.server.MountSecrets(api.SecretsDeps{Commands: a.secrets, Queries: qs.Secrets})
	a.server.MountAudit(api.AuditDeps{Queries: qs.Audit})
	a.server.MountServiceAccounts(api.ServiceAccountDeps{Commands: a.identity, Queries: qs.ServiceAccounts})
	a.server.MountClientToken(api.ClientTokenDeps{Commands: a.identity})
	files, err := a.openFiles(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.mountFiles(files, reads, streams.NewCatalog(a.pool)); err != nil {
		return nil, err
	}
	return a, nil
}

// openTLS loads the listeners' certificate and exposes its expiry, which is
// what an operator alerts on.
func (a *app) openTLS() error {
	r, err := servertls.New(servertls.Files{Cert: a.cfg.TLSCertFile, Key: a.cfg.TLSKeyFile, ClientCA: a.cfg.TLSClientCAFile},
		a.logger.With("component", "tls"))
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	a.tls = r
	a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vault_tls_certificate_expiry_timestamp_seconds",
		Help: "When the served TLS certificate expires (Unix time); SIGHUP reloads a renewed one.",
	}, func() float64 { return float64(r.Leaf().NotAfter.Unix()) }))
	return nil
}

// reloadTLS re-reads the certificate files (SIGHUP). A pair that cannot be
// used is refused and logged; the current one keeps serving.
func (a *app) reloadTLS() {
	if a.tls == nil {
		a.logger.Info("SIGHUP ignored: no TLS certificate is configured to reload")
		return
	}
	_ = a.tls.Reload()
}

// sealLog seals an unkeyed (SHA-256) prefix left by a version of the vault
// that did not key the chain, before anything else appends. A log that
// fails its checks does not stop start-up: the latch has tripped, and the
// replica serves /readyz and /metrics to say where.
func (a *app) sealLog(ctx context.Context) error {
	sealed, err := a.store.Seal(ctx)
	switch {
	case err != nil && a.latch.Tripped():
		return nil
	case err != nil:
		return fmt.Errorf("seal the event log: %w", err)
	case sealed:
		a.logger.Warn("the event log's SHA-256 prefix is now sealed under the chain key; run `vaultctl verify` once to check that prefix")
	}
	return nil
}

// checkEventStream compares the log with the tail of its JetStream stream
// before the first request can append: a log that lost events the stream
// still holds must not hand their positions out again. NATS being away is
// no reason to wait; the relay makes the same check when it connects.
func (a *app) checkEventStream(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, d, err := relay.CheckStream(cctx, a.nc, a.cfg.JetStreamStream, a.store)
	switch {
	case d != nil:
		a.latch.Trip(d.Position, d.Reason)
	case err != nil && !a.latch.Tripped():
		a.logger.Info("event stream not compared with the log at start-up; the relay will when it syncs", "error", err)
	}
}

// connectNATS connects to NATS_URL, or starts the embedded server in dev
// mode. The connection retries forever in the background: a NATS outage
// delays publishing, it never stops the vault from serving.
func (a *app) connectNATS() error {
	url := a.cfg.NATSURL
	if url == "" {
		if a.cfg.Production() {
			return fmt.Errorf("%s is required in production mode", config.EnvNATSURL)
		}
		emb, err := startEmbeddedNATS(a.cfg.StateDir, a.logger)
		if err != nil {
			return err
		}
		a.nats = emb
		url = emb.URL()
	}
	nc, err := nats.Connect(url,
		nats.Name("vaultd"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			a.logger.Warn("NATS disconnected; events queue in PostgreSQL until it returns", "error", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { a.logger.Info("NATS reconnected") }),
	)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", config.EnvNATSURL, err)
	}
	a.nc = nc
	return nil
}

func (a *app) openKeys(ctx context.Context) error {
	provider, keyring, err := wire.OpenKeys(ctx, a.cfg, a.pool, a.logger)
	if err != nil {
		return err
	}
	a.keyring = keyring
	a.keyProvider = keys.ProviderLocal
	if keyring == nil {
		a.keyProvider = keys.ProviderAWSKMS
	}
	a.dataKeys = keys.NewStore(a.pool, provider, a.logger)
	return nil
}

// bootstrap creates the admin user on an empty store. In dev mode without
// VAULT_ADMIN_PASSWORD it generates the password and prints it once, on
// the terminal rather than in the log, since logs are kept and shipped.
func (a *app) bootstrap(ctx context.Context) error {
	password := string(a.cfg.AdminPassword.Bytes())
	generated := false
	if password == "" {
		if a.cfg.Production() {
			return fmt.Errorf("%s is required in production mode", config.EnvAdminPassword)
		}
		password, generated = rand.Text(), true
	}
	created, err := a.identity.Bootstrap(ctx, password)
	if err != nil {
		return fmt.Errorf("bootstrap the admin user (%s): %w", config.EnvAdminPassword, err)
	}
	if created && generated {
		fmt.Fprintf(a.terminal, "\n  DEV MODE: created user \"admin\" with the generated password %s\n  It is shown only this once; set %s to choose it yourself.\n\n", password, config.EnvAdminPassword)
	}
	return nil
}

func (a *app) readyChecks() []api.ReadyCheck {
	return []api.ReadyCheck{
		{Name: "log_integrity", Check: a.latch.Check},
		{Name: "postgres", Check: func(ctx context.Context) error { return a.pool.Ping(ctx) }},
		{Name: "migrations", Check: func(ctx context.Context) error {
			pending, err := vaultsql.Pending(ctx, a.pool)
			if err != nil {
				return err
			}
			if pending {
				return errors.New("migrations are pending")
			}
			return nil
		}},
		{Name: "projections", Check: func(ctx context.Context) error {
			statuses, err := a.runner.Status(ctx)
			if err != nil {
				return err
			}
			for _, st := range statuses {
				if st.Lag > readyLagBound {
					return domain.Errorf(domain.EUNAVAILABLE, "projection %s is %d events behind the log (at most %d keep this replica ready)", st.Name, st.Lag, readyLagBound)
				}
			}
			return nil
		}},
		// The pipelines every replica shares: named when they fail, without
		// taking the replica out (see api.ReadyCheck.Advisory).
		{Name: "projections_stuck", Check: a.runner.Check, Advisory: true},
		{Name: "relay", Check: a.relay.Check, Advisory: true},
		{Name: "checkpoints", Check: a.signer.Check, Advisory: true},
	}
}

// followIdentity keeps the identity view close to the head of the log, woken
// by every committed batch (polling as a fallback), so the read each
// request makes to prove the view current seldom has events to apply.
func (a *app) followIdentity(ctx context.Context) error {
	wake, cancel := a.listener.Subscribe(pgnotify.ChannelEvents)
	defer cancel()
	return a.identityView.Run(ctx, wake, time.Second)
}

type statusBody struct {
	Projections []projections.Status `json:"projections"`
	Relay       relay.Status         `json:"relay"`
}

func (a *app) status(ctx context.Context) (any, error) {
	ps, err := a.runner.Status(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := a.relay.Status(ctx)
	if err != nil {
		return nil, err
	}
	return statusBody{Projections: ps, Relay: rs}, nil
}

// serve runs the background pipelines and the HTTP servers (the API on ln
// and, when metricsLn is not nil, /metrics on a listener of its own) until
// ctx ends or one of them fails, then shuts down in order: stop accepting
// requests on every listener and let in-flight ones finish, then stop the
// relay and projections at a clean checkpoint.
func (a *app) serve(ctx context.Context, ln, metricsLn net.Listener) error {
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for name, run := range map[string]func(context.Context) error{
		"pgnotify":    a.listener.Run,
		"relay":       a.relay.Run,
		"projections": a.runner.Run,
		"checkpoints": a.signer.Run,
		"waiter":      a.waiter.Run,
		"mail":        a.mailer.Run,
		"file sweep":  a.sweepOrphans,
		"identity":    a.followIdentity,
	} {
		wg.Go(func() {
			if err := run(background); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}

	type served struct {
		srv *http.Server
		ln  net.Listener
	}
	servers := []served{{a.server.HTTPServer(ln.Addr().String()), ln}}
	if metricsLn != nil {
		servers = append(servers, served{a.server.MetricsHTTPServer(metricsLn.Addr().String()), metricsLn})
	}
	serveErr := make(chan error, len(servers))
	for _, s := range servers {
		if a.tls == nil {
			go func() { serveErr <- s.srv.Serve(s.ln) }()
			continue
		}
		// Both listeners follow the same TLS settings: the metrics one
		// carries no secrets, but scrapes and liveness answers are still
		// worth authenticating, and one certificate is one to renew.
		// A copy each: net/http adds its protocols to the one it is given.
		// The copies share the reloader's callbacks, so both follow a reload.
		s.srv.TLSConfig = a.tls.Config().Clone()
		go func() { serveErr <- s.srv.ServeTLS(s.ln, "", "") }()
	}
	attrs := []any{"addr", ln.Addr().String(), "mode", string(a.cfg.Mode), "tls", a.tls != nil}
	if metricsLn != nil {
		attrs = append(attrs, "metrics_addr", metricsLn.Addr().String())
	}
	a.logger.Info("vaultd is serving", attrs...)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	case err := <-errs:
		runErr = err
	}

	a.logger.Info("shutting down: draining HTTP requests", "timeout", a.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	var drained sync.WaitGroup
	for _, s := range servers {
		drained.Go(func() {
			if err := s.srv.Shutdown(shutdownCtx); err != nil {
				a.logger.Warn("HTTP shutdown did not finish in time", "addr", s.ln.Addr().String(), "error", err)
			}
		})
	}
	drained.Wait()
	stopBackground()
	wg.Wait()
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// close releases everything newApp acquired, in reverse order.
func (a *app) close() {
	if a.store != nil {
		a.store.Close()
	}
	if a.keyring != nil {
		a.keyring.Close()
	}
	if a.nc != nil {
		_ = a.nc.Drain()
	}
	if a.nats != nil {
		a.nats.Shutdown()
	}
	if a.pool != nil {
		a.pool.Close()
	}
}
