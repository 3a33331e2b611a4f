package secrets

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/projections/secrets/internal/secretsdb"
)

// versionBatch gathers a page's version events so the page costs the same
// three statements however many rotations it holds: insert the added
// versions, mark the destroyed ones, and recompute the touched secrets'
// current version and live count. The result is the one applying the
// events one by one gives:
//   - a version is added at most once (the aggregate records each version
//     once; a replayed page is absorbed by ON CONFLICT DO NOTHING), and it
//     is inserted before any destruction of it is applied;
//   - a version destroyed twice keeps the first destruction (the
//     statement only changes active rows), so only the first is sent;
//   - a secret's updated_at and updated_by are those of the last event of
//     the page that touched it, whatever its kind.
type versionBatch struct {
	added     secretsdb.AddSecretVersionsParams
	destroyed secretsdb.DestroySecretVersionsParams
	seen      map[versionKey]bool // destructions already in the batch
	last      map[pgtype.UUID]stamp
	changed   []pgtype.UUID        // secrets whose versions changed, in first-change order
	isChanged map[pgtype.UUID]bool // the members of changed
}

type versionKey struct {
	id      pgtype.UUID
	version int64
}

type stamp struct {
	at    pgtype.Timestamptz
	actor string
}

// touched records that an event of the page changed the secret's row, so
// its stamp is the one a later refresh must write.
func (b *versionBatch) touched(id pgtype.UUID, at pgtype.Timestamptz, actor string) {
	if b.last == nil {
		b.last = make(map[pgtype.UUID]stamp)
	}
	b.last[id] = stamp{at: at, actor: actor}
}

// versionsChanged marks the secret for the refresh.
func (b *versionBatch) versionsChanged(id pgtype.UUID, at pgtype.Timestamptz, actor string) {
	if b.isChanged == nil {
		b.isChanged = make(map[pgtype.UUID]bool)
	}
	if !b.isChanged[id] {
		b.isChanged[id] = true
		b.changed = append(b.changed, id)
	}
	b.touched(id, at, actor)
}

func (b *versionBatch) add(id pgtype.UUID, version int64, generated bool, at pgtype.Timestamptz, actor string) {
	b.added.SecretIds = append(b.added.SecretIds, id)
	b.added.Versions = append(b.added.Versions, version)
	b.added.Generated = append(b.added.Generated, generated)
	b.added.Ats = append(b.added.Ats, at)
	b.added.Actors = append(b.added.Actors, actor)
	b.versionsChanged(id, at, actor)
}

func (b *versionBatch) destroy(id pgtype.UUID, version int64, reason string, at pgtype.Timestamptz, actor string) {
	key := versionKey{id: id, version: version}
	if b.seen == nil {
		b.seen = make(map[versionKey]bool)
	}
	if !b.seen[key] {
		b.seen[key] = true
		b.destroyed.SecretIds = append(b.destroyed.SecretIds, id)
		b.destroyed.Versions = append(b.destroyed.Versions, version)
		b.destroyed.Ats = append(b.destroyed.Ats, at)
		b.destroyed.Actors = append(b.destroyed.Actors, actor)
		b.destroyed.Reasons = append(b.destroyed.Reasons, reason)
	}
	b.versionsChanged(id, at, actor)
}

// flush writes the batch inside the page's transaction.
func (b *versionBatch) flush(ctx context.Context, q *secretsdb.Queries, tx pgx.Tx) error {
	if len(b.added.SecretIds) > 0 {
		if err := q.AddSecretVersions(ctx, tx, b.added); err != nil {
			return fmt.Errorf("add %d secret versions: %w", len(b.added.SecretIds), err)
		}
	}
	if len(b.destroyed.SecretIds) > 0 {
		if err := q.DestroySecretVersions(ctx, tx, b.destroyed); err != nil {
			return fmt.Errorf("destroy %d secret versions: %w", len(b.destroyed.SecretIds), err)
		}
	}
	if len(b.changed) == 0 {
		return nil
	}
	refresh := secretsdb.RefreshSecretsVersionsParams{
		Ids:    b.changed,
		Ats:    make([]pgtype.Timestamptz, len(b.changed)),
		Actors: make([]string, len(b.changed)),
	}
	for i, id := range b.changed {
		s := b.last[id]
		refresh.Ats[i], refresh.Actors[i] = s.at, s.actor
	}
	if err := q.RefreshSecretsVersions(ctx, tx, refresh); err != nil {
		return fmt.Errorf("refresh %d secrets: %w", len(b.changed), err)
	}
	return nil
}
