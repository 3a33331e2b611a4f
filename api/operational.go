package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/securevault/vault/domain"
)

const (
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
	pathMetrics = "/metrics"
)

func (s *Server) registerOperational(gatherer prometheus.Gatherer) {
	// Probes and the scrape ignore their query string: an orchestrator or a
	// scrape configuration may add parameters nobody here controls, and a
	// refused probe would restart a healthy instance.
	s.handleAnyQuery(http.MethodGet, pathHealthz, http.HandlerFunc(s.healthz))
	s.handleAnyQuery(http.MethodGet, pathReadyz, http.HandlerFunc(s.readyz))
	metrics := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s},
		ErrorHandling: promhttp.ContinueOnError,
	})
	if !s.cfg.MetricsOnOwnListener {
		s.handleAnyQuery(http.MethodGet, pathMetrics, metrics)
	}
	// The metrics listener's own router: exposition and liveness only, so
	// opening it to a scraper's network opens nothing else.
	own := mux.NewRouter()
	own.NotFoundHandler = http.HandlerFunc(s.notFound)
	own.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
			Code: codeMethodNotAllowed, Message: "method " + r.Method + " is not allowed here",
		}})
	})
	own.Handle(pathMetrics, metrics).Methods(http.MethodGet)
	own.HandleFunc(pathHealthz, s.healthz).Methods(http.MethodGet)
	s.metricsOnly = securityHeaders(own)
}

// healthz answers as long as the process serves HTTP: it checks nothing
// else, so a database outage never makes an orchestrator kill the process.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type readyBody struct {
	Status   string            `json:"status,omitempty"`
	Error    *errorDetail      `json:"error,omitempty"`
	Degraded []string          `json:"degraded,omitempty"`
	Checks   map[string]string `json:"checks"`
}

// readyz runs every check concurrently, each under its own timeout. Check
// errors are logged, not returned: they may name hosts or SQL. Only a
// check that fails with a domain error (whose message is caller-safe by
// definition) has its message shown, so an operator's probe sees, for
// example, which log position failed its integrity check. A failing
// advisory check answers 200 with status "degraded" and its name under
// "degraded"; any other failing check answers 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results := make([]error, len(s.readyChecks))
	var wg sync.WaitGroup
	for i, c := range s.readyChecks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyCheckTimeout)
			defer cancel()
			results[i] = c.Check(ctx)
		})
	}
	wg.Wait()

	body := readyBody{Checks: make(map[string]string, len(s.readyChecks))}
	var failed []string
	for i, c := range s.readyChecks {
		if results[i] != nil {
			if c.Advisory {
				body.Degraded = append(body.Degraded, c.Name)
			} else {
				failed = append(failed, c.Name)
			}
			body.Checks[c.Name] = "failed"
			if domain.ErrorCode(results[i]) != domain.EINTERNAL {
				body.Checks[c.Name] = "failed: " + domain.ErrorMessage(results[i])
			}
			s.logger.WarnContext(r.Context(), "readiness check failed",
				"check", c.Name, "advisory", c.Advisory, "request_id", RequestIDFrom(r.Context()), "error", results[i])
			continue
		}
		body.Checks[c.Name] = "ok"
	}
	sort.Strings(body.Degraded)
	if len(failed) == 0 {
		body.Status = "ready"
		if len(body.Degraded) > 0 {
			body.Status = "degraded"
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	sort.Strings(failed)
	body.Error = &errorDetail{Code: domain.EUNAVAILABLE, Message: "not ready: " + strings.Join(failed, ", ")}
	writeJSON(w, http.StatusServiceUnavailable, body)
}

type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) {
	l.s.logger.Error("metrics exposition failed", "detail", strings.TrimSpace(fmt.Sprintln(v...)))
}
