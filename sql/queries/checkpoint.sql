-- name: TryLockSigner :one
-- Transaction-scoped: one replica signs at a time and a crashed signer can
-- never leave the lock held.
SELECT pg_try_advisory_xact_lock(hashtextextended('vault.checkpoint:' || @deployment::text, 0))::boolean AS locked;

-- name: LastCheckpointPosition :one
SELECT COALESCE(max(position), 0)::bigint FROM chain_checkpoints;

-- name: ChainHeadPosition :one
SELECT position FROM event_chain_head WHERE singleton;

-- name: InsertCheckpoint :execrows
INSERT INTO chain_checkpoints (position, hash, recorded_at, deployment, key_id, public_key, signature)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (position) DO NOTHING;

-- name: UnpublishedCheckpoints :many
SELECT position, hash, recorded_at, deployment, key_id, public_key, signature
FROM chain_checkpoints
WHERE published_at IS NULL
ORDER BY position
LIMIT $1;

-- name: MarkPublished :exec
UPDATE chain_checkpoints SET published_at = now() WHERE position = $1 AND published_at IS NULL;

-- name: LatestCheckpoint :one
SELECT position, hash, recorded_at, deployment, key_id, public_key, signature
FROM chain_checkpoints
ORDER BY position DESC
LIMIT 1;
