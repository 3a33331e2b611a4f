-- name: InsertSecret :exec
-- ON CONFLICT: the runner applies each event once, but a rebuild after a
-- partial manual cleanup must not wedge the projection.
INSERT INTO secrets (id, name, description, tags, state, created_at, created_by, updated_at, updated_by)
VALUES (@id, @name, @description, @tags::text[], 'active', @at, @actor, @at, @actor)
ON CONFLICT (id) DO NOTHING;

-- name: ApplySecretVersions :exec
-- A page's version events in one statement (projections/secrets
-- versions.go): insert the added versions, destroy the destroyed ones, and
-- move each touched secret's current version, live count and stamps by
-- what the two actually did (their RETURNING rows), so a replayed event
-- changes nothing twice. The sub-statements of one statement share a
-- snapshot and do not see each other's rows, so a version added and
-- destroyed in the same page is inserted destroyed; it is in the destroy
-- list as well, which finds it only if an earlier application of the page
-- had inserted it active.
WITH added AS (
    INSERT INTO secret_versions (secret_id, version, state, generated, created_at, created_by,
                                 destroyed_at, destroyed_by, destroy_reason)
    SELECT a.secret_id, a.version, CASE WHEN a.destroyed THEN 'destroyed' ELSE 'active' END, a.generated,
           a.at, a.actor,
           CASE WHEN a.destroyed THEN a.destroyed_at END,
           CASE WHEN a.destroyed THEN a.destroyed_by END,
           CASE WHEN a.destroyed THEN a.destroy_reason END
    FROM (SELECT unnest(@add_secret_ids::uuid[]) AS secret_id, unnest(@add_versions::bigint[]) AS version,
                 unnest(@add_generated::boolean[]) AS generated, unnest(@add_ats::timestamptz[]) AS at,
                 unnest(@add_actors::text[]) AS actor, unnest(@add_destroyed::boolean[]) AS destroyed,
                 unnest(@add_destroyed_ats::timestamptz[]) AS destroyed_at,
                 unnest(@add_destroyed_bys::text[]) AS destroyed_by,
                 unnest(@add_destroy_reasons::text[]) AS destroy_reason) AS a
    ON CONFLICT (secret_id, version) DO NOTHING
    RETURNING secret_id, version, state
), destroyed AS (
    UPDATE secret_versions v
    SET state = 'destroyed', destroyed_at = d.at, destroyed_by = d.actor, destroy_reason = d.reason
    FROM (SELECT unnest(@destroy_secret_ids::uuid[]) AS secret_id, unnest(@destroy_versions::bigint[]) AS version,
                 unnest(@destroy_ats::timestamptz[]) AS at, unnest(@destroy_actors::text[]) AS actor,
                 unnest(@destroy_reasons::text[]) AS reason) AS d
    WHERE v.secret_id = d.secret_id AND v.version = d.version AND v.state = 'active'
    RETURNING v.secret_id
), added_per_secret AS (
    SELECT secret_id, max(version) AS max_version, count(*) FILTER (WHERE state = 'active') AS live
    FROM added GROUP BY secret_id
), destroyed_per_secret AS (
    SELECT secret_id, count(*) AS gone FROM destroyed GROUP BY secret_id
)
UPDATE secrets s
SET current_version = GREATEST(s.current_version, COALESCE(a.max_version, 0)),
    version_count = s.version_count + COALESCE(a.live, 0) - COALESCE(g.gone, 0),
    updated_at = t.at, updated_by = t.actor
FROM (SELECT unnest(@touched_ids::uuid[]) AS id, unnest(@touched_ats::timestamptz[]) AS at,
             unnest(@touched_actors::text[]) AS actor) AS t
LEFT JOIN added_per_secret a ON a.secret_id = t.id
LEFT JOIN destroyed_per_secret g ON g.secret_id = t.id
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
