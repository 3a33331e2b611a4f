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
