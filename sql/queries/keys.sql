-- name: LockMasterKeys :exec
-- Serialises rotations (and first-key bootstrap) across replicas so each
-- sees the others' committed result; readers are not blocked.
LOCK TABLE master_keys IN SHARE ROW EXCLUSIVE MODE;

-- name: ListMasterKeys :many
SELECT id, wrapped_key, created_at, active
FROM master_keys
ORDER BY created_at, id;

-- name: ActiveMasterKeyID :one
SELECT id FROM master_keys WHERE active;

-- name: DeactivateMasterKeys :exec
UPDATE master_keys SET active = false WHERE active;

-- name: InsertMasterKey :exec
INSERT INTO master_keys (id, wrapped_key, active) VALUES ($1, $2, $3);

-- name: DeleteInactiveMasterKey :execrows
DELETE FROM master_keys WHERE id = $1 AND NOT active;

-- name: CountDataKeysUnder :one
SELECT count(*) FROM data_keys WHERE provider = $1 AND key_id = $2;

-- name: InsertDataKey :execrows
INSERT INTO data_keys (owner_id, version, provider, key_id, wrapped)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (owner_id, version) DO NOTHING;

-- name: GetDataKey :one
SELECT owner_id, version, provider, key_id, wrapped, created_at, rewrapped_at
FROM data_keys
WHERE owner_id = $1 AND version = $2;

-- name: DeleteDataKey :execrows
DELETE FROM data_keys WHERE owner_id = $1 AND version = $2;

-- name: DeleteOwnerDataKeys :execrows
-- Every version of one owner (a deleted user's password hashes).
DELETE FROM data_keys WHERE owner_id = $1;

-- name: ListDataKeysAfter :many
-- Keyset pagination: stable while rows are added or deleted concurrently.
SELECT owner_id, version, provider, key_id, wrapped, created_at, rewrapped_at
FROM data_keys
WHERE (owner_id, version) > (sqlc.arg(after_owner)::text, sqlc.arg(after_version)::bigint)
ORDER BY owner_id, version
LIMIT sqlc.arg(max_rows);

-- name: CountDataKeys :one
SELECT count(*) FROM data_keys;

-- name: ReplaceWrappedDataKey :execrows
-- Compare-and-set on the old wrapped bytes: a rewrap never resurrects a key
-- destroyed meanwhile and never overwrites a concurrent rewrap.
UPDATE data_keys
SET provider = sqlc.arg(provider), key_id = sqlc.arg(key_id), wrapped = sqlc.arg(wrapped), rewrapped_at = now()
WHERE owner_id = sqlc.arg(owner_id) AND version = sqlc.arg(version) AND wrapped = sqlc.arg(old_wrapped);
