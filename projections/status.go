package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/internal/projdb"
)

// Status is where one projection stands against the log.
type Status struct {
	Name       string    `json:"name"`
	Checkpoint int64     `json:"checkpoint"`
	Head       int64     `json:"head"`
	Lag        int64     `json:"lag"` // events committed but not yet applied
	UpdatedAt  time.Time `json:"updated_at"`
}

// Status reports every registered projection, in name order. The numbers
// come from the database, so every vaultd process reports the same ones.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	names := make([]string, 0, len(r.projections))
	for _, p := range r.projections {
		names = append(names, p.Name())
	}
	// Head first: a checkpoint read later can only be closer to it, so lag
	// is never negative.
	head, err := r.reader.HeadPosition(ctx)
	if err != nil {
		return nil, fmt.Errorf("read head of the log: %w", err)
	}
	rows, err := r.queries.Checkpoints(ctx, r.pool, names)
	if err != nil {
		return nil, translate(fmt.Errorf("read checkpoints: %w", err))
	}
	byName := make(map[string]Status, len(rows))
	for _, row := range rows {
		byName[row.Name] = Status{Name: row.Name, Checkpoint: row.Position, UpdatedAt: row.UpdatedAt.Time}
	}
	out := make([]Status, 0, len(names))
	for _, p := range r.projections {
		s, ok := byName[p.Name()]
		if !ok {
			s = Status{Name: p.Name()} // not started yet: everything is lag
		}
		s.Head = max(head, s.Checkpoint)
		s.Lag = s.Head - s.Checkpoint
		if sel, ok := p.(Selective); ok && s.Lag > 0 {
			// It skips other pages without storing its checkpoint: what it
			// still has to apply is its own events after it.
			n, err := r.queries.EventsOfAggregatesBetween(ctx, r.pool, projdb.EventsOfAggregatesBetweenParams{
				After: s.Checkpoint, UpTo: s.Head, Aggregates: sel.Aggregates(),
			})
			if err != nil {
				return nil, translate(fmt.Errorf("read events after the checkpoint of %s: %w", p.Name(), err))
			}
			s.Lag = n
		}
		out = append(out, s)
	}
	return out, nil
}

// stepApply names what a failing page was doing, for Check.
const stepApply = "apply a page"

// Check is the readiness check for stuck projections: it fails, naming
// each one, when a projection's pages have failed StuckAfter times in a
// row in this process. A stuck projection is failing, not merely behind:
// its checkpoint will not move until the cause (the vaultd log has it) is
// fixed. Lag is reported by Status.
func (r *Runner) Check(ctx context.Context) error {
	var stuck []string
	for _, p := range r.projections {
		st := r.health[p.Name()].State()
		if !st.Failing(r.opts.StuckAfter) {
			continue
		}
		at := ""
		if cp, err := r.readCheckpoint(ctx, p.Name()); err == nil {
			at = fmt.Sprintf(" after position %d", cp)
		}
		stuck = append(stuck, fmt.Sprintf("%s (%d failed pages in a row%s since %s)",
			p.Name(), st.Failures, at, st.Since.UTC().Format(time.RFC3339)))
	}
	if len(stuck) == 0 {
		return nil
	}
	return domain.Errorf(domain.EUNAVAILABLE, "projections stuck: %s; the vaultd log has the cause", strings.Join(stuck, ", "))
}

// metrics exposes the runner. Checkpoint and lag are collected from the
// database at scrape time rather than kept in gauges, so they are right
// even for projections another process is applying.
type metrics struct {
	runner     *Runner
	applied    *prometheus.CounterVec
	failures   *prometheus.CounterVec
	checkpoint *prometheus.Desc
	lag        *prometheus.Desc
	up         *prometheus.Desc
}

func newMetrics(r *Runner, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runner: r,
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vault_projection_events_applied_total",
			Help: "Events this process applied to a projection.",
		}, []string{"projection"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vault_projection_failures_total",
			Help: "Pages of events that failed to apply and will be retried.",
		}, []string{"projection"}),
		checkpoint: prometheus.NewDesc("vault_projection_checkpoint_position",
			"Last log position the projection's read model reflects.", []string{"projection"}, nil),
		lag: prometheus.NewDesc("vault_projection_lag_events",
			"Events committed to the log but not yet applied to the projection.", []string{"projection"}, nil),
		up: prometheus.NewDesc("vault_projection_status_up",
			"1 if the projection status could be read at the last scrape.", nil, nil),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.applied, m.failures, m} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register projection metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.checkpoint
	ch <- m.lag
	ch <- m.up
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	statuses, err := m.runner.Status(ctx)
	if err != nil {
		m.runner.logger.Warn("collect projection metrics", "error", err)
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 1)
	for _, s := range statuses {
		ch <- prometheus.MustNewConstMetric(m.checkpoint, prometheus.GaugeValue, float64(s.Checkpoint), s.Name)
		ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(s.Lag), s.Name)
	}
}

// translate gives database failures a domain code at the package boundary:
// an unreachable database is EUNAVAILABLE, anything else from PostgreSQL is
// EINTERNAL. Errors that already carry a code, and context errors, pass
// through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.SafeToRetry(err) {
		return domain.WrapError(domain.EUNAVAILABLE, "the database is unavailable", err)
	}
	return domain.WrapError(domain.EINTERNAL, "read model storage failed", err)
}

// Selective lists the projections that read only some aggregates' streams,
// with those aggregates, for Waiter.Selective.
func (r *Runner) Selective() map[string][]string {
	out := map[string][]string{}
	for _, p := range r.projections {
		if sel, ok := p.(Selective); ok {
			out[p.Name()] = sel.Aggregates()
		}
	}
	return out
}
