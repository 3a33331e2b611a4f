package api

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/domain"
)

// statusWriter remembers what was answered, for the access log, metrics and
// panic recovery (which can only answer if nothing was written yet).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush keeps streaming exports working through the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack is passed through so a future upgrade endpoint is not silently broken.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) written() bool { return w.status != 0 }

// recordRoute runs inside the router, after it matched: it writes the
// matched route's template into the request's info for the metrics and the
// access log. Requests no route matched (404, 405) keep "unmatched".
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestInfoFrom(r.Context()).labelWith(mux.CurrentRoute(r))
		next.ServeHTTP(w, r)
	})
}

// labelUnrouted writes the route label of a request answered before the
// router ran, by asking the router which route it would have reached.
func (s *Server) labelUnrouted(r *http.Request, info requestInfo) {
	var match mux.RouteMatch
	if s.router.Match(r, &match) && match.MatchErr == nil {
		info.labelWith(match.Route)
	}
}

// observe writes the access log line and the request metrics. It logs no
// query string, header or body: those are where tokens and values travel.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		info := requestInfoFrom(r.Context())
		method := metricMethod(r.Method)
		code := strconv.Itoa(sw.status)
		s.metrics.requests.WithLabelValues(info.Route(), method, code).Inc()
		s.metrics.duration.WithLabelValues(info.Route(), method, code).Observe(elapsed.Seconds())
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", info.ID),
			slog.String("method", r.Method),
			slog.String("route", info.Route()),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", elapsed),
			slog.String("client_ip", info.ClientIP.String()),
		)
	})
}

// recoverPanics turns a handler panic into a logged 500 with no internals in
// the answer. http.ErrAbortHandler is re-raised: it is net/http's way to
// abort a response on purpose.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "handler panic",
				"request_id", RequestIDFrom(r.Context()),
				"route", requestInfoFrom(r.Context()).Route(),
				"panic", fmt.Sprint(v),
				"stack", string(debug.Stack()))
			if sw, ok := w.(interface{ written() bool }); ok && sw.written() {
				// Too late for a clean error: abort so the client sees a
				// broken response rather than a truncated success.
				panic(http.ErrAbortHandler)
			}
			s.writeError(w, r, domain.Errorf(domain.EINTERNAL, "panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// hsts tells browsers to use HTTPS only for two years. Without
// includeSubDomains: the vault does not speak for the rest of its domain.
const hsts = "max-age=63072000"

// securityHeaders marks every answer uncacheable and not sniffable: answers
// may hold secret metadata or values, which no shared cache may keep. An
// answer over TLS also carries Strict-Transport-Security; behind a proxy
// that terminates TLS the proxy sets it, since only it knows the scheme.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", hsts)
		}
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// rateLimit applies the general per-client limit. Probes and scrapes are
// exempt so an orchestrator never restarts a busy but healthy instance.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	if s.limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The router has not run yet, so the probes are told by their
		// exact path: none of them has a variable in it.
		if r.Method == http.MethodGet {
			switch r.URL.Path {
			case pathHealthz, pathReadyz, pathMetrics:
				next.ServeHTTP(w, r)
				return
			}
		}
		info := requestInfoFrom(r.Context())
		ok, retryAfter := s.limiter.Allow(limiterKey(info.ClientIP))
		if !ok {
			// Refused before routing: match here, on this rare path only,
			// so a 429 is still counted under the route it was aimed at.
			s.labelUnrouted(r, info)
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(retryAfter)))
			s.writeError(w, r, domain.Errorf(domain.ERATELIMIT, "too many requests; retry later"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(1, secs)
}
