// Package pgtrace counts the statements a process sends to PostgreSQL, as a
// pgx tracer: every Query, QueryRow and Exec (BEGIN and COMMIT included),
// every query of a batch and every COPY. It is what vaultbench divides by the
// requests served to report statements per request, a figure that does not
// depend on machine noise.
package pgtrace

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricName is the counter the statements are exposed as.
const MetricName = "vault_db_statements_total"

// Counter is a pgx tracer that counts statements. The zero value counts;
// Register exposes the count as MetricName. Set it as
// pgx.ConnConfig.Tracer.
type Counter struct {
	n atomic.Int64
}

var (
	_ pgx.QueryTracer    = (*Counter)(nil)
	_ pgx.BatchTracer    = (*Counter)(nil)
	_ pgx.CopyFromTracer = (*Counter)(nil)
)

// New returns a counter exposed on reg as MetricName (reg may be nil).
func New(reg prometheus.Registerer) *Counter {
	c := &Counter{}
	if reg != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: MetricName,
			Help: "Statements sent to PostgreSQL by this process's pool: queries, execs (BEGIN and COMMIT included), each query of a batch, each COPY.",
		}, func() float64 { return float64(c.Count()) }))
	}
	return c
}

// Count is the number of statements sent so far.
func (c *Counter) Count() int64 { return c.n.Load() }

// TraceQueryStart counts a Query, QueryRow or Exec.
func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

// TraceQueryEnd does nothing.
func (c *Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart does nothing: each query of the batch is counted.
func (c *Counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery counts one query of a batch.
func (c *Counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) { c.n.Add(1) }

// TraceBatchEnd does nothing.
func (c *Counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TraceCopyFromStart counts a COPY.
func (c *Counter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.n.Add(1)
	return ctx
}

// TraceCopyFromEnd does nothing.
func (c *Counter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}
