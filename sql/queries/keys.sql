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

-- name: InsertDataKeys :many
-- Group commit (keys/datakey_batch.go): the Puts that queued while the
-- previous statement ran, as one statement. The arrays are parallel (unnest
-- in the select list zips them), one element per key, each (owner, version)
-- at most once. RETURNING names the rows inserted; a key already there is
-- left alone and not returned.
--
-- The statement commits without waiting for the WAL to reach disk
-- (set_config(..., true) is SET LOCAL for its own implicit transaction, so
-- no round trip of its own). That is safe because a key is always stored
-- before the event that names it is appended (NewDataKey's contract), and
-- the append commits synchronously: its commit record follows the key's in
-- the WAL, which is flushed in order, so once the append is acknowledged
-- the key is on disk too. A crash before that loses at most a key no
-- acknowledged event names (an orphan either way). It takes one disk
-- flush off every write that seals a value.
INSERT INTO data_keys (owner_id, version, provider, key_id, wrapped)
SELECT unnest(@owner_ids::text[]), unnest(@versions::bigint[]), unnest(@providers::text[]),
       unnest(@key_ids::text[]), unnest(@wrapped::bytea[])
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS commit_without_flush
ON CONFLICT (owner_id, version) DO NOTHING
RETURNING owner_id, version;

-- name: GetDataKeys :many
-- The stored keys of a batch of refs: concurrent Gets (a reveal reads one
-- per request) in one statement, and the refs of a Put batch that were
-- already there, to tell a repeated Put (same key: no-op) from a
-- conflicting one. A ref without a key has no row.
SELECT d.owner_id, d.version, d.provider, d.key_id, d.wrapped
FROM data_keys d
JOIN (SELECT unnest(@owner_ids::text[]) AS owner_id, unnest(@versions::bigint[]) AS version) AS r
  ON d.owner_id = r.owner_id AND d.version = r.version;

-- name: DeleteDataKeys :many
-- Group commit of concurrent Deletes; RETURNING names the keys that were
-- there (and are now destroyed).
--
-- With @flush false the statement commits without waiting for the WAL to
-- reach disk (set_config(..., true) is SET LOCAL for its own implicit
-- transaction), as InsertDataKeys does. A batch holds only keys of
-- versions whose retirement is already in the log (keys.Store.DeleteRetired),
-- so a crash that loses the delete loses no decision: the version stays
-- refused, and its key row is left behind as a failed delete leaves it. The
-- delete reaches disk with the next synchronous commit on the server (every
-- append is one; WAL is flushed in order) or the WAL writer's next round.
-- With @flush true the server's own setting applies.
DELETE FROM data_keys
WHERE (owner_id, version) IN (
  SELECT unnest(@owner_ids::text[]), unnest(@versions::bigint[])
  FROM (SELECT set_config('synchronous_commit',
          CASE WHEN @flush::boolean THEN current_setting('synchronous_commit') ELSE 'off' END, true)) AS commit_mode)
RETURNING owner_id, version;

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
