// Package secrets is the `secrets` projection: the secrets and
// secret_versions read models behind the secret listing, metadata and
// version endpoints. It holds metadata only: the events carry ciphertext,
// and this package never copies it.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/secrets/internal/secretsdb"
)

// Name is the projection's checkpoint name; commands wait for it to give
// read-your-writes on secret endpoints.
const Name = domain.ReadModelSecrets

// Projection maintains the secrets and secret_versions tables.
type Projection struct {
	q *secretsdb.Queries
}

// New returns the projection.
func New() *Projection { return &Projection{q: secretsdb.New()} }

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"secrets", "secret_versions"} }

// Reset implements projections.Projection.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	if err := p.q.DeleteSecretVersions(ctx, tx); err != nil {
		return fmt.Errorf("clear secret versions: %w", err)
	}
	if err := p.q.DeleteSecrets(ctx, tx); err != nil {
		return fmt.Errorf("clear secrets: %w", err)
	}
	return nil
}

// Aggregates are the only streams Apply reads (projections.Selective):
// the runner skips pages of other streams without a transaction.
func (*Projection) Aggregates() []string {
	return []string{domain.SecretAggregate}
}

// Apply implements projections.Projection. Version events, nearly every
// secret event under load (a rotation adds one and may destroy one), are
// gathered over the page and written in three statements whatever the
// page's size; the rarer create, metadata and state events are one
// statement each, applied in log order before them (versions reference
// their secret's row, so creates come first).
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	var versions versionBatch
	for _, ev := range events {
		if ev.Aggregate() != domain.SecretAggregate {
			continue
		}
		if err := p.apply(ctx, tx, ev, &versions); err != nil {
			return fmt.Errorf("apply %s at position %d: %w", ev.Type, ev.Position, err)
		}
	}
	return versions.flush(ctx, p.q, tx)
}

func (p *Projection) apply(ctx context.Context, tx pgx.Tx, ev domain.RecordedEvent, versions *versionBatch) error {
	id, err := toUUID(ev.StreamID[len(domain.SecretAggregate)+1:])
	if err != nil {
		return err
	}
	at := pgtype.Timestamptz{Time: ev.RecordedAt, Valid: true}
	actor := ev.Metadata.Actor
	if domain.SecretEventStamps(ev.Type) {
		versions.touched(id, at, actor)
	}
	switch ev.Type {
	case domain.EventSecretCreated:
		var e domain.SecretCreated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		return p.q.InsertSecret(ctx, tx, secretsdb.InsertSecretParams{
			ID: id, Name: e.Name, Description: e.Description, Tags: nonNil(e.Tags), At: at, Actor: actor,
		})
	case domain.EventSecretVersionAdded:
		// Decode only what the read model keeps: the sealed value is
		// deliberately not a field here, so it cannot be copied by mistake.
		var e struct {
			Version   int64 `json:"version"`
			Generated bool  `json:"generated"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		versions.add(id, e.Version, e.Generated, at, actor)
	case domain.EventSecretVersionDestroyed:
		var e domain.SecretVersionDestroyed
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		versions.destroy(id, e.Version, e.Reason, at, actor)
	case domain.EventSecretMetadataUpdated:
		var e domain.SecretMetadataUpdated
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		return p.q.UpdateSecretMetadata(ctx, tx, secretsdb.UpdateSecretMetadataParams{
			Description: e.Description, Tags: nonNil(e.Tags), At: at, Actor: actor, ID: id,
		})
	case domain.EventSecretDeleted:
		return p.q.SetSecretState(ctx, tx, secretsdb.SetSecretStateParams{State: domain.SecretStateDeleted, At: at, Actor: actor, ID: id})
	case domain.EventSecretRestored:
		return p.q.SetSecretState(ctx, tx, secretsdb.SetSecretStateParams{State: domain.SecretStateActive, At: at, Actor: actor, ID: id})
	}
	return nil
}

// DB is what the queries run on: a pool, a connection or a transaction.
type DB interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Query reads the secret read models.
type Query struct {
	db DB
	q  *secretsdb.Queries
}

// NewQuery returns the read side of the projection.
func NewQuery(db DB) *Query { return &Query{db: db, q: secretsdb.New()} }

// Get returns one secret's metadata, deleted or not.
func (q *Query) Get(ctx context.Context, id string) (domain.SecretSummary, error) {
	uid, err := toUUID(id)
	if err != nil {
		return domain.SecretSummary{}, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	row, err := q.q.GetSecret(ctx, q.db, uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.SecretSummary{}, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	if err != nil {
		return domain.SecretSummary{}, dbError("read secret", err)
	}
	return summary(row), nil
}

// List returns up to f.Limit secrets (at most SecretListMaxLimit) in name
// order after f.After.
func (q *Query) List(ctx context.Context, f domain.SecretFilter) ([]domain.SecretSummary, error) {
	limit := f.Limit
	if limit <= 0 || limit > domain.SecretListMaxLimit {
		limit = domain.SecretListMaxLimit
	}
	var (
		rows []secretsdb.Secret
		err  error
	)
	if f.Tag != "" {
		rows, err = q.q.ListSecretsByTag(ctx, q.db, secretsdb.ListSecretsByTagParams{
			Tag: f.Tag, Prefix: f.Prefix, AfterName: f.After, IncludeDeleted: f.IncludeDeleted, MaxRows: int32(limit),
		})
	} else {
		rows, err = q.q.ListSecrets(ctx, q.db, secretsdb.ListSecretsParams{
			Prefix: f.Prefix, AfterName: f.After, IncludeDeleted: f.IncludeDeleted, MaxRows: int32(limit),
		})
	}
	if err != nil {
		return nil, dbError("list secrets", err)
	}
	out := make([]domain.SecretSummary, 0, len(rows))
	for _, r := range rows {
		out = append(out, summary(r))
	}
	return out, nil
}

// MixedCaseName returns the stored name, spelled with capitals, that folds
// to folded: a name recorded before secret names were folded, which a new
// name must not duplicate. ok is false when there is none.
func (q *Query) MixedCaseName(ctx context.Context, folded string) (string, bool, error) {
	name, err := q.q.MixedCaseSecretName(ctx, q.db, folded)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, dbError("look up a mixed-case secret name", err)
	}
	return name, true, nil
}

// Versions lists a secret's versions, oldest first.
func (q *Query) Versions(ctx context.Context, id string) ([]domain.SecretVersionInfo, error) {
	uid, err := toUUID(id)
	if err != nil {
		return nil, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	rows, err := q.q.ListSecretVersions(ctx, q.db, uid)
	if err != nil {
		return nil, dbError("list secret versions", err)
	}
	out := make([]domain.SecretVersionInfo, 0, len(rows))
	for _, r := range rows {
		v := domain.SecretVersionInfo{
			Version: r.Version, State: r.State, Generated: r.Generated,
			CreatedAt: r.CreatedAt.Time, CreatedBy: r.CreatedBy,
			DestroyedBy: r.DestroyedBy.String, DestroyReason: r.DestroyReason.String,
		}
		if r.DestroyedAt.Valid {
			t := r.DestroyedAt.Time
			v.DestroyedAt = &t
		}
		out = append(out, v)
	}
	return out, nil
}

func summary(r secretsdb.Secret) domain.SecretSummary {
	return domain.SecretSummary{
		ID: r.ID.String(), Name: r.Name, Description: r.Description, Tags: nonNil(r.Tags),
		CurrentVersion: r.CurrentVersion, VersionCount: r.VersionCount, State: r.State,
		CreatedAt: r.CreatedAt.Time, CreatedBy: r.CreatedBy, UpdatedAt: r.UpdatedAt.Time, UpdatedBy: r.UpdatedBy,
	}
}

func toUUID(id string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if !domain.IsID(id) {
		return u, domain.Errorf(domain.EINVALID, "secret id %q is not a UUID", id)
	}
	if err := u.Scan(id); err != nil {
		return u, domain.WrapError(domain.EINVALID, "secret id is not a UUID", err)
	}
	return u, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// dbError translates pgx failures at the package boundary: cancellation is
// "unavailable", anything else internal (logged, never shown).
func dbError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domain.WrapError(domain.EUNAVAILABLE, op+" timed out", err)
	}
	return domain.WrapError(domain.EINTERNAL, op+" failed", err)
}
