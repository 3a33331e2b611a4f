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
SELECT version, schema_version, state, mac, mac_key_id FROM snapshots WHERE stream_id = $1;

-- name: SaveSnapshot :exec
INSERT INTO snapshots (stream_id, version, schema_version, state, mac, mac_key_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (stream_id) DO UPDATE
SET version = EXCLUDED.version, schema_version = EXCLUDED.schema_version,
    state = EXCLUDED.state, mac = EXCLUDED.mac, mac_key_id = EXCLUDED.mac_key_id,
    created_at = EXCLUDED.created_at
WHERE snapshots.version < EXCLUDED.version;

-- name: DeleteSnapshot :exec
-- A snapshot that fails its MAC is removed: it is only a cache, and a forged
-- one with a huge version would otherwise never be replaced.
DELETE FROM snapshots WHERE stream_id = $1 AND version = $2;
