package audit

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/audit/internal/auditdb"
)

// maxRows bounds one read; the query layer (package queries) enforces the public page limit
// and asks for one row more to know whether another page follows.
const maxRows = 10 * domain.AuditMaxLimit

// DB is what the queries run on: a pool, a connection or a transaction.
type DB interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Reader answers audit queries. The API and the benchmark both go through
// it, so the benchmark measures the queries users run.
type Reader struct {
	db DB
	q  *auditdb.Queries
}

// NewReader returns a reader over db.
func NewReader(db DB) *Reader { return &Reader{db: db, q: auditdb.New()} }

// Get returns the entry of one log position, or an ENOTFOUND error.
func (r *Reader) Get(ctx context.Context, position int64) (domain.AuditEntry, error) {
	row, err := r.q.GetAuditEntry(ctx, r.db, position)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.AuditEntry{}, domain.Errorf(domain.ENOTFOUND, "no audit entry at position %d", position)
	}
	if err != nil {
		return domain.AuditEntry{}, translate(fmt.Errorf("read audit entry %d: %w", position, err))
	}
	return fromRow(row), nil
}

// List returns up to f.Limit entries matching f, newest first. The filter
// must already be valid (package queries checks it); List only refuses a
// limit out of range.
//
// It picks the query whose index leads with the most selective condition
// given: a user, then a resource, else time alone.
func (r *Reader) List(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEntry, error) {
	if f.Limit < 1 || f.Limit > maxRows {
		return nil, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.AuditMaxLimit)
	}
	since := pgtype.Timestamptz{Time: f.Since, Valid: true}
	if f.Since.IsZero() {
		since = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	until := pgtype.Timestamptz{Time: f.Until, Valid: true}
	if f.Until.IsZero() {
		until = pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	}
	beforeTS := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	beforePos := int64(math.MaxInt64)
	if f.Before != nil {
		beforeTS = pgtype.Timestamptz{Time: f.Before.Timestamp, Valid: true}
		beforePos = f.Before.Position
	}
	ip := ""
	if f.IP.IsValid() {
		ip = f.IP.String()
	}
	limit := int32(f.Limit)

	var rows []auditdb.GetAuditEntryRow
	var err error
	switch {
	case f.UserID != "":
		var got []auditdb.ListAuditByUserIDRow
		got, err = r.q.ListAuditByUserID(ctx, r.db, auditdb.ListAuditByUserIDParams{
			UserID: f.UserID, Since: since, Until: until, BeforeTimestamp: beforeTS, BeforePosition: beforePos,
			Action: f.Action, ResourceType: f.ResourceType, ResourceID: f.ResourceID, Outcome: f.Outcome, Ip: ip, MaxRows: limit,
		})
		rows = convert(got, func(r auditdb.ListAuditByUserIDRow) auditdb.GetAuditEntryRow { return auditdb.GetAuditEntryRow(r) })
	case f.Username != "":
		var got []auditdb.ListAuditByUsernameRow
		got, err = r.q.ListAuditByUsername(ctx, r.db, auditdb.ListAuditByUsernameParams{
			Username: f.Username, Since: since, Until: until, BeforeTimestamp: beforeTS, BeforePosition: beforePos,
			Action: f.Action, ResourceType: f.ResourceType, ResourceID: f.ResourceID, Outcome: f.Outcome, Ip: ip, MaxRows: limit,
		})
		rows = convert(got, func(r auditdb.ListAuditByUsernameRow) auditdb.GetAuditEntryRow { return auditdb.GetAuditEntryRow(r) })
	case f.ResourceType != "" && f.ResourceID != "":
		var got []auditdb.ListAuditByResourceRow
		got, err = r.q.ListAuditByResource(ctx, r.db, auditdb.ListAuditByResourceParams{
			ResourceType: f.ResourceType, ResourceID: f.ResourceID, Since: since, Until: until,
			BeforeTimestamp: beforeTS, BeforePosition: beforePos, Action: f.Action, Outcome: f.Outcome, Ip: ip, MaxRows: limit,
		})
		rows = convert(got, func(r auditdb.ListAuditByResourceRow) auditdb.GetAuditEntryRow { return auditdb.GetAuditEntryRow(r) })
	default:
		var got []auditdb.ListAuditRow
		got, err = r.q.ListAudit(ctx, r.db, auditdb.ListAuditParams{
			Since: since, Until: until, BeforeTimestamp: beforeTS, BeforePosition: beforePos, Action: f.Action,
			ResourceType: f.ResourceType, ResourceID: f.ResourceID, Outcome: f.Outcome, Ip: ip, MaxRows: limit,
		})
		rows = convert(got, func(r auditdb.ListAuditRow) auditdb.GetAuditEntryRow { return auditdb.GetAuditEntryRow(r) })
	}
	if err != nil {
		return nil, translate(fmt.Errorf("list audit entries: %w", err))
	}
	out := make([]domain.AuditEntry, 0, len(rows))
	for _, row := range rows {
		out = append(out, fromRow(row))
	}
	return out, nil
}

func convert[T any](rows []T, f func(T) auditdb.GetAuditEntryRow) []auditdb.GetAuditEntryRow {
	out := make([]auditdb.GetAuditEntryRow, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

func fromRow(r auditdb.GetAuditEntryRow) domain.AuditEntry {
	return domain.AuditEntry{
		Position: r.Position, EventID: r.EventID, Timestamp: r.Timestamp.Time.UTC(), UserID: r.UserID,
		Username: r.Username, Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID,
		Outcome: r.Outcome, IP: r.Ip, UserAgent: r.UserAgent, RequestID: r.RequestID, EventType: r.EventType,
	}
}

// translate turns storage failures into domain errors: the caller learns
// whether to retry, never the SQL.
func translate(err error) error {
	var de *domain.Error
	if errors.As(err, &de) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.SafeToRetry(err) {
		return domain.WrapError(domain.EUNAVAILABLE, "the database is unavailable", err)
	}
	return domain.WrapError(domain.EINTERNAL, "audit log storage failed", err)
}
