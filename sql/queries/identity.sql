-- name: InsertUser :exec
-- ON CONFLICT: the runner applies each event once, but a rebuild after a
-- partial manual cleanup must not wedge the projection.
INSERT INTO users (id, username, email, roles, disabled, created_at, created_by, updated_at, updated_by)
VALUES (@id, @username, @email, '{}', false, @at, @actor, @at, @actor)
ON CONFLICT (id) DO NOTHING;

-- name: SetUserEmail :exec
UPDATE users SET email = @email, updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: SetUserRoles :exec
UPDATE users SET roles = @roles::uuid[], updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: SetUserDisabled :exec
UPDATE users SET disabled = @disabled, updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: TouchUser :exec
-- A password change shows only as a change of updated_at/by: the read model
-- never holds the hash.
UPDATE users SET updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: DeleteUser :exec
DELETE FROM users WHERE id = $1;

-- name: DeleteAllUsers :exec
DELETE FROM users;

-- name: GetUser :one
SELECT * FROM users WHERE id = $1;

-- name: ListUsers :many
SELECT * FROM users
WHERE starts_with(username, @prefix::text) AND username > @after_name::text
ORDER BY username
LIMIT @max_rows;

-- name: UpsertRole :exec
INSERT INTO roles (id, name, description, policies, created_at, created_by, updated_at, updated_by)
VALUES (@id, @name, @description, @policies::uuid[], @at, @actor, @at, @actor)
ON CONFLICT (id) DO UPDATE
SET name = EXCLUDED.name, description = EXCLUDED.description, policies = EXCLUDED.policies,
    updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by;

-- name: DeleteRole :exec
DELETE FROM roles WHERE id = $1;

-- name: DeleteAllRoles :exec
DELETE FROM roles;

-- name: GetRole :one
SELECT * FROM roles WHERE id = $1;

-- name: ListRoles :many
SELECT * FROM roles
WHERE starts_with(name, @prefix::text) AND name > @after_name::text
ORDER BY name
LIMIT @max_rows;

-- name: UpsertPolicy :exec
INSERT INTO policies (id, name, description, statements, created_at, created_by, updated_at, updated_by)
VALUES (@id, @name, @description, @statements::jsonb, @at, @actor, @at, @actor)
ON CONFLICT (id) DO UPDATE
SET name = EXCLUDED.name, description = EXCLUDED.description, statements = EXCLUDED.statements,
    updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by;

-- name: DeletePolicy :exec
DELETE FROM policies WHERE id = $1;

-- name: DeleteAllPolicies :exec
DELETE FROM policies;

-- name: GetPolicy :one
SELECT * FROM policies WHERE id = $1;

-- name: ListPolicies :many
SELECT * FROM policies
WHERE starts_with(name, @prefix::text) AND name > @after_name::text
ORDER BY name
LIMIT @max_rows;

-- name: UserIDsByEmail :many
-- Served by users_email_lower_idx (migration 00120).
SELECT id FROM users WHERE lower(email) = lower(@email::text) AND email <> '' ORDER BY id LIMIT @max_rows;
