package secrets

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/projections/secrets/internal/secretsdb"
)

// versionBatch gathers a page's version events so the page costs one
// statement however many rotations it holds (ApplySecretVersions): insert
// the added versions, mark the destroyed ones, and move the touched
// secrets' current version and live count by what those two did. The
// result is the one applying the events one by one gives:
//   - a version is added at most once (the aggregate records each version
//     once; a replayed page is absorbed by ON CONFLICT DO NOTHING);
//   - a version destroyed in the page it was added in is inserted destroyed,
//     since the statement's parts do not see each other's rows;
//   - a version destroyed twice keeps the first destruction (the statement
//     only changes active rows), so only the first is sent;
//   - a secret's updated_at and updated_by are those of the last event of
//     the page that touched it, whatever its kind.
type versionBatch struct {
	arg       secretsdb.ApplySecretVersionsParams
	addedAt   map[versionKey]int  // index in the add arrays
	destroyed map[versionKey]bool // destructions already in the batch
	touchedAt map[pgtype.UUID]int // index in the touched arrays
	changed   bool                // a version event is in the batch
}

type versionKey struct {
	id      pgtype.UUID
	version int64
}

// touched records that an event of the page stamps the secret's row
// (domain.SecretEventStamps), so the batch writes that event's stamp (the
// last one wins).
func (b *versionBatch) touched(id pgtype.UUID, at pgtype.Timestamptz, actor string) {
	if b.touchedAt == nil {
		b.touchedAt = make(map[pgtype.UUID]int)
	}
	if i, ok := b.touchedAt[id]; ok {
		b.arg.TouchedAts[i], b.arg.TouchedActors[i] = at, actor
		return
	}
	b.touchedAt[id] = len(b.arg.TouchedIds)
	b.arg.TouchedIds = append(b.arg.TouchedIds, id)
	b.arg.TouchedAts = append(b.arg.TouchedAts, at)
	b.arg.TouchedActors = append(b.arg.TouchedActors, actor)
}

func (b *versionBatch) add(id pgtype.UUID, version int64, generated bool, at pgtype.Timestamptz, actor string) {
	if b.addedAt == nil {
		b.addedAt = make(map[versionKey]int)
	}
	key := versionKey{id: id, version: version}
	if _, ok := b.addedAt[key]; !ok {
		b.addedAt[key] = len(b.arg.AddSecretIds)
		b.arg.AddSecretIds = append(b.arg.AddSecretIds, id)
		b.arg.AddVersions = append(b.arg.AddVersions, version)
		b.arg.AddGenerated = append(b.arg.AddGenerated, generated)
		b.arg.AddAts = append(b.arg.AddAts, at)
		b.arg.AddActors = append(b.arg.AddActors, actor)
		b.arg.AddDestroyed = append(b.arg.AddDestroyed, false)
		b.arg.AddDestroyedAts = append(b.arg.AddDestroyedAts, pgtype.Timestamptz{})
		b.arg.AddDestroyedBys = append(b.arg.AddDestroyedBys, "")
		b.arg.AddDestroyReasons = append(b.arg.AddDestroyReasons, "")
	}
	b.changed = true
}

func (b *versionBatch) destroy(id pgtype.UUID, version int64, reason string, at pgtype.Timestamptz, actor string) {
	if b.destroyed == nil {
		b.destroyed = make(map[versionKey]bool)
	}
	key := versionKey{id: id, version: version}
	if !b.destroyed[key] {
		b.destroyed[key] = true
		if i, ok := b.addedAt[key]; ok {
			b.arg.AddDestroyed[i] = true
			b.arg.AddDestroyedAts[i], b.arg.AddDestroyedBys[i], b.arg.AddDestroyReasons[i] = at, actor, reason
		}
		b.arg.DestroySecretIds = append(b.arg.DestroySecretIds, id)
		b.arg.DestroyVersions = append(b.arg.DestroyVersions, version)
		b.arg.DestroyAts = append(b.arg.DestroyAts, at)
		b.arg.DestroyActors = append(b.arg.DestroyActors, actor)
		b.arg.DestroyReasons = append(b.arg.DestroyReasons, reason)
	}
	b.changed = true
}

// flush writes the batch inside the page's transaction. A page with no
// version event writes nothing here: its other events were applied one by
// one and stamped their rows themselves.
func (b *versionBatch) flush(ctx context.Context, q *secretsdb.Queries, tx pgx.Tx) error {
	if !b.changed {
		return nil
	}
	if err := q.ApplySecretVersions(ctx, tx, b.arg); err != nil {
		return fmt.Errorf("apply %d added and %d destroyed secret versions: %w", len(b.arg.AddSecretIds), len(b.arg.DestroySecretIds), err)
	}
	return nil
}
