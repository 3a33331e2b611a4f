// Package streams is the `streams` projection: a catalog of every stream in
// the log with its current version and when it was first and last written.
// Admin tooling lists aggregates with it, and it is the projection the
// runner's tests and rebuild benchmark exercise.
package streams

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/internal/projdb"
)

// Name is the projection's checkpoint name.
const Name = domain.ReadModelStreams

// Projection maintains the stream_catalog table.
type Projection struct {
	queries *projdb.Queries
}

// New returns the projection.
func New() *Projection { return &Projection{queries: projdb.New()} }

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"stream_catalog"} }

// Apply folds the page into one row per stream and writes them with a single
// multi-row upsert: one round trip per page whatever its size, which is what
// makes a rebuild fast.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	index := make(map[string]int, len(events))
	var arg projdb.UpsertStreamsParams
	for _, e := range events {
		at := pgtype.Timestamptz{Time: e.RecordedAt, Valid: true}
		i, seen := index[e.StreamID]
		if !seen {
			index[e.StreamID] = len(arg.StreamIds)
			arg.StreamIds = append(arg.StreamIds, e.StreamID)
			arg.Aggregates = append(arg.Aggregates, e.Aggregate())
			arg.Versions = append(arg.Versions, e.Version)
			arg.LastPositions = append(arg.LastPositions, e.Position)
			arg.FirstRecordedAts = append(arg.FirstRecordedAts, at)
			arg.LastRecordedAts = append(arg.LastRecordedAts, at)
			continue
		}
		arg.Versions[i] = e.Version
		arg.LastPositions[i] = e.Position
		arg.LastRecordedAts[i] = at
	}
	if err := p.queries.UpsertStreams(ctx, tx, arg); err != nil {
		return fmt.Errorf("upsert %d streams: %w", len(arg.StreamIds), err)
	}
	return nil
}

// Reset implements projections.Projection.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	if err := p.queries.DeleteStreamCatalog(ctx, tx); err != nil {
		return fmt.Errorf("clear stream catalog: %w", err)
	}
	return nil
}

// DB is what the catalog queries run on: a pool, a connection or a
// transaction.
type DB interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Stream is one row of the catalog.
type Stream struct {
	StreamID        string    `json:"stream_id"`
	Aggregate       string    `json:"aggregate"`
	Version         int64     `json:"version"`
	LastPosition    int64     `json:"last_position"`
	FirstRecordedAt time.Time `json:"first_recorded_at"`
	LastRecordedAt  time.Time `json:"last_recorded_at"`
}

// Get returns one stream of the catalog, or an ENOTFOUND error.
func Get(ctx context.Context, db DB, streamID string) (Stream, error) {
	row, err := projdb.New().GetStream(ctx, db, streamID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Stream{}, domain.Errorf(domain.ENOTFOUND, "stream %q is not in the catalog", streamID)
	}
	if err != nil {
		return Stream{}, domain.WrapError(domain.EINTERNAL, "read stream catalog", err)
	}
	return fromRow(row), nil
}

// List returns up to limit streams after afterStreamID in stream id order,
// of one aggregate when aggregate is not empty.
func List(ctx context.Context, db DB, aggregate, afterStreamID string, limit int32) ([]Stream, error) {
	rows, err := projdb.New().ListStreams(ctx, db, projdb.ListStreamsParams{
		Aggregate: aggregate, AfterStreamID: afterStreamID, MaxRows: limit,
	})
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "list stream catalog", err)
	}
	out := make([]Stream, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, nil
}

func fromRow(r projdb.StreamCatalog) Stream {
	return Stream{
		StreamID: r.StreamID, Aggregate: r.Aggregate, Version: r.Version, LastPosition: r.LastPosition,
		FirstRecordedAt: r.FirstRecordedAt.Time, LastRecordedAt: r.LastRecordedAt.Time,
	}
}

// Catalog lists stream ids of one aggregate; time travel enumerates the
// streams that may have existed at a past position with it and folds each
// from the log.
type Catalog struct {
	db DB
}

// NewCatalog returns the catalog's reader.
func NewCatalog(db DB) *Catalog { return &Catalog{db: db} }

// StreamIDs returns up to limit stream ids of aggregate after afterStreamID,
// in stream id order.
func (c *Catalog) StreamIDs(ctx context.Context, aggregate, afterStreamID string, limit int) ([]string, error) {
	if limit < 1 || limit > math.MaxInt32 {
		return nil, domain.Errorf(domain.EINVALID, "limit must be positive")
	}
	rows, err := List(ctx, c.db, aggregate, afterStreamID, int32(limit))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.StreamID)
	}
	return out, nil
}
