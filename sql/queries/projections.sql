-- name: EnsureCheckpoint :exec
-- A checkpoint created is announced like an advance ("name:0"), so a waiter
-- keeping its view from the payloads learns that the projection exists
-- (a selective one may not advance for a long while).
WITH created AS (
    INSERT INTO projection_checkpoints (name) VALUES (@name::text)
    ON CONFLICT (name) DO NOTHING
    RETURNING name, position
)
SELECT pg_notify('vault_checkpoints', created.name || ':' || created.position::text) FROM created;

-- name: LeadCheckpoint :many
-- The projection's transaction-scoped advisory lock and its checkpoint row,
-- in one round trip: the row comes back, locked, only when this
-- transaction holds the advisory lock. COMMIT or ROLLBACK releases both, so
-- a crashed runner can never leave a projection locked.
--
-- The same statement turns synchronous_commit off for the page's
-- transaction (set_config with is_local, i.e. SET LOCAL, without a round
-- trip of its own): the page's COMMIT does not wait for the WAL to reach
-- disk. A read model is derived from the log and moves with its checkpoint
-- in one transaction, so a crash loses at most the last pages of both
-- together (atomic, never torn), and the runner applies them again from
-- the log, which is always committed synchronously. What this buys is one
-- disk flush less between an append and the read-your-writes answer.
SELECT position FROM projection_checkpoints
WHERE name = @name::text
  AND pg_try_advisory_xact_lock(hashtextextended('vault.projection:' || @name::text, 0))
  AND set_config('synchronous_commit', 'off', true) = 'off'
FOR UPDATE;

-- name: LockProjection :exec
SELECT pg_advisory_xact_lock(hashtextextended('vault.projection:' || @name::text, 0));

-- name: CheckpointForUpdate :one
SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE;

-- name: AdvanceCheckpoint :execrows
-- Moves the checkpoint and, when the transaction commits, tells the waiters
-- of every process "name:position" (projections.Waiter keeps its view from
-- that payload without a read). A checkpoint never moves back: the guard
-- makes that a fact of the database, so a payload is a lower bound of the
-- checkpoint for ever. One row when it moved (or stayed), none when the
-- guard refused or there is no such checkpoint; then nothing is notified.
WITH advanced AS (
    UPDATE projection_checkpoints SET position = @position, updated_at = now()
    WHERE name = @name::text AND position <= @position
    RETURNING name, position
)
SELECT pg_notify('vault_checkpoints', advanced.name || ':' || advanced.position::text) FROM advanced;

-- name: Checkpoints :many
SELECT name, position, updated_at FROM projection_checkpoints
WHERE name = ANY(@names::text[])
ORDER BY name;

-- name: AllCheckpoints :many
SELECT name, position, updated_at FROM projection_checkpoints ORDER BY name;

-- name: TableExists :one
SELECT (to_regclass(@name::text) IS NOT NULL)::boolean AS exists;

-- name: UpsertStreams :exec
-- One statement per page: the caller folds a page into one row per stream.
-- The guard on last_position makes a replayed page a no-op.
INSERT INTO stream_catalog (stream_id, aggregate, version, last_position, first_recorded_at, last_recorded_at)
SELECT unnest(@stream_ids::text[]), unnest(@aggregates::text[]), unnest(@versions::bigint[]),
       unnest(@last_positions::bigint[]), unnest(@first_recorded_ats::timestamptz[]),
       unnest(@last_recorded_ats::timestamptz[])
ON CONFLICT (stream_id) DO UPDATE
SET version = EXCLUDED.version,
    last_position = EXCLUDED.last_position,
    last_recorded_at = EXCLUDED.last_recorded_at
WHERE stream_catalog.last_position < EXCLUDED.last_position;

-- name: DeleteStreamCatalog :exec
DELETE FROM stream_catalog;

-- name: GetStream :one
SELECT * FROM stream_catalog WHERE stream_id = $1;

-- name: ListStreams :many
SELECT * FROM stream_catalog
WHERE (@aggregate::text = '' OR aggregate = @aggregate::text) AND stream_id > @after_stream_id::text
ORDER BY stream_id
LIMIT @max_rows;

-- name: EventsOfAggregatesBetween :one
-- How many events in (after, up_to] belong to streams of the aggregates: none
-- means a projection that reads only those streams, checkpointed at after,
-- shows the log as of up_to.
SELECT count(*)::bigint FROM events
WHERE position > @after::bigint AND position <= @up_to::bigint
  AND split_part(stream_id, '-', 1) = ANY(@aggregates::text[]);
