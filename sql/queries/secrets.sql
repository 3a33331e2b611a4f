-- name: InsertSecret :exec
-- ON CONFLICT: the runner applies each event once, but a rebuild after a
-- partial manual cleanup must not wedge the projection.
INSERT INTO secrets (id, name, description, tags, state, created_at, created_by, updated_at, updated_by)
VALUES (@id, @name, @description, @tags::text[], 'active', @at, @actor, @at, @actor)
ON CONFLICT (id) DO NOTHING;

-- name: AddSecretVersions :exec
-- A page's new versions in one statement (the projection batches per page).
INSERT INTO secret_versions (secret_id, version, state, generated, created_at, created_by)
SELECT unnest(@secret_ids::uuid[]), unnest(@versions::bigint[]), 'active', unnest(@generated::boolean[]),
       unnest(@ats::timestamptz[]), unnest(@actors::text[])
ON CONFLICT (secret_id, version) DO NOTHING;

-- name: DestroySecretVersions :exec
-- A page's destroyed versions in one statement; each (secret, version)
-- appears once, with the first destruction the log records.
UPDATE secret_versions v
SET state = 'destroyed', destroyed_at = t.at, destroyed_by = t.actor, destroy_reason = t.reason
FROM (SELECT unnest(@secret_ids::uuid[]) AS secret_id, unnest(@versions::bigint[]) AS version,
             unnest(@ats::timestamptz[]) AS at, unnest(@actors::text[]) AS actor, unnest(@reasons::text[]) AS reason) AS t
WHERE v.secret_id = t.secret_id AND v.version = t.version AND v.state = 'active';

-- name: RefreshSecretsVersions :exec
-- Recomputed from the versions table so replays cannot double count; each
-- id appears once, with the last event of the page that touched it.
UPDATE secrets s
SET current_version = COALESCE((SELECT max(v.version) FROM secret_versions v WHERE v.secret_id = s.id), 0),
    version_count = (SELECT count(*) FROM secret_versions v WHERE v.secret_id = s.id AND v.state = 'active'),
    updated_at = t.at, updated_by = t.actor
FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@ats::timestamptz[]) AS at, unnest(@actors::text[]) AS actor) AS t
WHERE s.id = t.id;

-- name: UpdateSecretMetadata :exec
UPDATE secrets SET description = @description, tags = @tags::text[], updated_at = @at, updated_by = @actor
WHERE id = @id;

-- name: SetSecretState :exec
UPDATE secrets SET state = @state, updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: DeleteSecretVersions :exec
DELETE FROM secret_versions;

-- name: DeleteSecrets :exec
DELETE FROM secrets;

-- name: GetSecret :one
SELECT * FROM secrets WHERE id = $1;

-- name: ListSecrets :many
SELECT * FROM secrets
WHERE starts_with(name, @prefix::text)
  AND name > @after_name::text
  AND (@include_deleted::boolean OR state = 'active')
ORDER BY name
LIMIT @max_rows;

-- name: ListSecretsByTag :many
-- A separate statement rather than an optional condition, so the planner
-- can use the GIN index on tags.
SELECT * FROM secrets
WHERE tags @> ARRAY[@tag::text]
  AND starts_with(name, @prefix::text)
  AND name > @after_name::text
  AND (@include_deleted::boolean OR state = 'active')
ORDER BY name
LIMIT @max_rows;

-- name: ListSecretVersions :many
SELECT * FROM secret_versions WHERE secret_id = $1 ORDER BY version;

-- name: MixedCaseSecretName :one
-- A stored name spelled with capitals whose folded form is @folded: a name
-- recorded before names were folded (see the secrets_mixed_case_name_idx
-- migration). The conditions match the partial index.
SELECT name FROM secrets
WHERE lower(name) = @folded::text AND name <> lower(name)
LIMIT 1;
