// Package api is the vault's HTTP surface: one router, one error vocabulary
// and one middleware chain that every endpoint file in this package shares.
//
// Endpoint files (secrets.go, users.go, ...) add a method such as
//
//	func (s *Server) MountSecrets(deps SecretsDeps) {
//		s.handle(http.MethodPost, "/api/v1/secrets", s.authenticated(h.create))
//	}
//
// and cmd/vaultd calls it after New, so only cmd wires dependencies together.
// Handlers call package commands to change something and package queries to
// read; api imports no storage package (no pgx, no projection), which
// TestAPIDependencies holds it to.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/ratelimit"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxBodyBytes        = 1 << 20
	DefaultRateLimitMaxClients = 100_000
	DefaultReadyCheckTimeout   = 2 * time.Second
)

// Config holds the HTTP layer's tunables. Zero values take the defaults above;
// a zero RateLimitRPS disables the general rate limit.
type Config struct {
	// MaxBodyBytes bounds JSON request bodies; larger ones answer 413.
	MaxBodyBytes int64
	// TrustedProxies lists the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimitRPS and RateLimitBurst shape the per-client token bucket.
	RateLimitRPS   float64
	RateLimitBurst int
	// RateLimitMaxClients bounds the limiter's memory.
	RateLimitMaxClients int
	// ReadyCheckTimeout bounds each readiness check.
	ReadyCheckTimeout time.Duration
	// MetricsOnOwnListener moves /metrics off the API: Handler answers it
	// with 404 and MetricsHandler serves it, for a listener an operator can
	// keep on an internal interface.
	MetricsOnOwnListener bool
}

// ReadyCheck is one named readiness condition (database reachable,
// migrations applied, projections caught up). A nil error means ready.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Advisory marks a condition this instance can serve without: its
	// failure is named in the answer, whose status becomes "degraded", but
	// the answer stays 200 so a load balancer keeps the instance. The
	// background pipelines (relay, checkpoint signer, a stuck projection
	// within its lag bound) are advisory because they are shared by every
	// replica: taking all of them out would turn a NATS outage, which must
	// never fail a command, into a full one.
	Advisory bool
}

// Deps are the collaborators the HTTP base needs. Registerer and Gatherer
// default to a private registry, Logger to a discarding one.
type Deps struct {
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	Gatherer    prometheus.Gatherer
	ReadyChecks []ReadyCheck
	// Authenticator authenticates every protected route; without one they
	// all answer 401.
	Authenticator Authenticator
}

// Server owns the router and the middleware around it.
type Server struct {
	cfg         Config
	logger      *slog.Logger
	router      *mux.Router
	handler     http.Handler
	metricsOnly http.Handler
	metrics     *httpMetrics
	limiter     *ratelimit.Keyed[netip.Addr]
	readyChecks []ReadyCheck
	authn       Authenticator
	// endpoints are the routes handle registered, with their queries.
	endpoints []Endpoint
}

// New builds a server with the operational endpoints (/healthz, /readyz,
// /metrics) registered. It fails only if its metrics cannot be registered.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = withDefaults(cfg)
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registerer == nil || deps.Gatherer == nil {
		reg := prometheus.NewRegistry()
		deps.Registerer, deps.Gatherer = reg, reg
	}
	metrics, err := newHTTPMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		logger:      deps.Logger,
		router:      mux.NewRouter(),
		metrics:     metrics,
		readyChecks: deps.ReadyChecks,
		authn:       deps.Authenticator,
	}
	if cfg.RateLimitRPS > 0 {
		s.limiter = ratelimit.NewKeyed[netip.Addr](cfg.RateLimitRPS, cfg.RateLimitBurst, cfg.RateLimitMaxClients, time.Now)
	}
	// A path is routed as sent, never cleaned and redirected: a secret name
	// with ".." (sent as %2F..%2F) must be refused, not read as another name.
	s.router.SkipClean(true)
	s.router.Use(recordRoute)
	s.router.NotFoundHandler = http.HandlerFunc(s.notFound)
	s.router.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)
	s.registerOperational(deps.Gatherer)
	if err := s.registerOpenAPI(); err != nil {
		return nil, err
	}

	// Outermost first: the request context must exist before anything logs,
	// and panics are recovered inside the observer so they count as 500s.
	var h http.Handler = s.router
	h = s.rateLimit(h)
	h = s.recoverPanics(h)
	h = securityHeaders(h)
	h = s.observe(h)
	h = s.requestContext(h)
	s.handler = h
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RateLimitBurst <= 0 {
		cfg.RateLimitBurst = max(1, int(cfg.RateLimitRPS))
	}
	if cfg.RateLimitMaxClients <= 0 {
		cfg.RateLimitMaxClients = DefaultRateLimitMaxClients
	}
	if cfg.ReadyCheckTimeout <= 0 {
		cfg.ReadyCheckTimeout = DefaultReadyCheckTimeout
	}
	return cfg
}

// Router exposes the router so routes can be added after New.
func (s *Server) Router() *mux.Router { return s.router }

// Handler is the router wrapped in the full middleware chain.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves /metrics and /healthz and nothing else (404 JSON),
// for the listener of VAULT_METRICS_ADDR.
func (s *Server) MetricsHandler() http.Handler { return s.metricsOnly }

// HTTPServer returns an http.Server with timeouts that defeat slow-header
// and idle-connection exhaustion. WriteTimeout stays zero because audit
// exports stream for as long as they need.
func (s *Server) HTTPServer(addr string) *http.Server { return s.httpServer(addr, s.handler) }

// MetricsHTTPServer is HTTPServer for MetricsHandler.
func (s *Server) MetricsHTTPServer(addr string) *http.Server {
	return s.httpServer(addr, s.metricsOnly)
}

func (s *Server) httpServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}
