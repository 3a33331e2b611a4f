-- name: RelayCheckpoint :one
SELECT position FROM relay_checkpoints WHERE name = $1;

-- name: SaveRelayCheckpoint :exec
-- Unconditional: when the stream lost its tail (a NATS crash before fsync)
-- the relay republishes from the stream's real last message and the
-- checkpoint must follow it back.
INSERT INTO relay_checkpoints (name, position, updated_at)
VALUES ($1, $2, now())
ON CONFLICT (name) DO UPDATE
SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at;

-- name: TryRelayLock :one
-- A session lock: PostgreSQL releases it when the leader's connection dies,
-- which is how a follower notices that it may take over.
SELECT pg_try_advisory_lock(hashtextextended('vault_relay:' || sqlc.arg(name)::text, 0))::boolean AS locked;

-- name: ReleaseRelayLock :one
SELECT pg_advisory_unlock(hashtextextended('vault_relay:' || sqlc.arg(name)::text, 0))::boolean AS released;
