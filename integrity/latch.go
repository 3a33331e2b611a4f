// Package integrity holds a replica's verdict on its event log: whether a
// read, the relay or a witness found the log tampered with, where first, and
// why. The state lives in one Latch, made once per process and handed to
// every component that checks the log or must stop when it fails; nothing
// here is package-level.
//
// The latch only ever closes. Once tripped the replica answers /readyz with
// 503 naming the position, refuses appends, the relay stops publishing, and
// the metric vault_log_integrity_violation reads 1, until the process is
// restarted: after the operator has repaired (or restored) the log, or
// accepted what `vaultctl verify` reports, a restart re-checks everything
// from scratch.
package integrity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/domain"
)

// Violation is the first integrity failure the replica met.
type Violation struct {
	Position int64     `json:"position"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// Latch records the first violation, logs it once and raises the metric.
type Latch struct {
	logger *slog.Logger
	now    func() time.Time

	mu        sync.Mutex
	violation *Violation

	tripped  prometheus.Gauge
	position prometheus.Gauge
	reports  prometheus.Counter
}

// NewLatch returns an open latch; reg may be nil.
func NewLatch(logger *slog.Logger, reg prometheus.Registerer) *Latch {
	l := &Latch{
		logger: logger,
		now:    time.Now,
		tripped: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vault_log_integrity_violation",
			Help: "1 once this replica found the event log tampered with (it then stops serving until restarted).",
		}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vault_log_integrity_violation_position",
			Help: "The first log position that failed its integrity check (0 while none did).",
		}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_log_integrity_reports_total",
			Help: "Integrity failures reported, the first and every later one.",
		}),
	}
	if reg != nil {
		reg.MustRegister(l.tripped, l.position, l.reports)
	}
	return l
}

// Trip records a violation. The first one latches and is logged at error
// level; later ones (often the same event met by another reader) are only
// counted and logged at debug level, so a tampered event read on every
// request does not flood the log.
func (l *Latch) Trip(position int64, reason string) {
	l.reports.Inc()
	l.mu.Lock()
	first := l.violation == nil
	if first {
		l.violation = &Violation{Position: position, Reason: reason, At: l.now().UTC()}
	}
	l.mu.Unlock()
	if !first {
		l.logger.Debug("further event log integrity violation", "position", position, "reason", reason)
		return
	}
	l.tripped.Set(1)
	l.position.Set(float64(position))
	l.logger.Error("event log integrity violation: this replica stops serving from the log until it is restarted; run `vaultctl verify`",
		"position", position, "reason", reason)
}

// Tripped reports whether a violation was recorded.
func (l *Latch) Tripped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.violation != nil
}

// Violation returns the recorded violation, if any.
func (l *Latch) Violation() (Violation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.violation == nil {
		return Violation{}, false
	}
	return *l.violation, true
}

// Check is the readiness check: it fails, naming the position and reason,
// once the latch is tripped. The message is meant for operators and holds
// nothing secret.
func (l *Latch) Check(context.Context) error {
	v, ok := l.Violation()
	if !ok {
		return nil
	}
	return domain.Errorf(domain.EUNAVAILABLE, "the event log failed its integrity check at position %d: %s", v.Position, v.Reason)
}
