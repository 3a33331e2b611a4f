-- name: ReadStream :many
SELECT *
FROM events
WHERE stream_id = $1 AND version > $2
ORDER BY version
LIMIT $3;

-- name: ReadStreamUntilPosition :many
SELECT *
FROM events
WHERE stream_id = $1 AND version > $2 AND position <= $3
ORDER BY version
LIMIT $4;

-- name: ReadAll :many
SELECT *
FROM events
WHERE position > $1
ORDER BY position
LIMIT $2;

-- name: ChainHead :one
SELECT position, hash, recorded_at FROM event_chain_head WHERE singleton;

-- name: LastPositionAt :one
-- The last position recorded at or before a time, for time travel.
SELECT COALESCE(max(position), 0)::bigint FROM events WHERE recorded_at <= $1;

-- name: StreamVersion :one
SELECT COALESCE(max(version), 0)::bigint FROM events WHERE stream_id = $1;

-- name: LoadSnapshot :one
SELECT version, schema_version, state FROM snapshots WHERE stream_id = $1;

-- name: SaveSnapshot :exec
INSERT INTO snapshots (stream_id, version, schema_version, state, created_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (stream_id) DO UPDATE
SET version = EXCLUDED.version, schema_version = EXCLUDED.schema_version,
    state = EXCLUDED.state, created_at = EXCLUDED.created_at
WHERE snapshots.version < EXCLUDED.version;
