-- name: InsertServiceAccount :exec
-- ON CONFLICT: a rebuild after a partial manual cleanup must not wedge it.
INSERT INTO service_accounts (id, name, description, roles, disabled, created_at, created_by, updated_at, updated_by)
VALUES (@id, @name, @description, @roles::uuid[], false, @at, @actor, @at, @actor)
ON CONFLICT (id) DO NOTHING;

-- name: SetServiceAccountDescription :exec
UPDATE service_accounts SET description = @description, updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: SetServiceAccountRoles :exec
UPDATE service_accounts SET roles = @roles::uuid[], updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: SetServiceAccountDisabled :exec
UPDATE service_accounts SET disabled = @disabled, updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: TouchServiceAccount :exec
UPDATE service_accounts SET updated_at = @at, updated_by = @actor WHERE id = @id;

-- name: DeleteServiceAccount :exec
DELETE FROM service_accounts WHERE id = $1;

-- name: DeleteAllServiceAccounts :exec
DELETE FROM service_accounts;

-- name: DeleteAllClientCredentials :exec
DELETE FROM client_credentials;

-- name: GetServiceAccount :one
SELECT s.*, (SELECT count(*) FROM client_credentials c WHERE c.service_account_id = s.id)::int AS credentials
FROM service_accounts s WHERE s.id = $1;

-- name: ListServiceAccounts :many
SELECT s.*, (SELECT count(*) FROM client_credentials c WHERE c.service_account_id = s.id)::int AS credentials
FROM service_accounts s
WHERE starts_with(s.name, @prefix::text) AND s.name > @after_name::text
ORDER BY s.name
LIMIT @max_rows;

-- name: InsertClientCredential :exec
INSERT INTO client_credentials (id, service_account_id, name, client_id, created_at, expires_at, allowed_cidrs)
VALUES (@id, @service_account_id, @name, @client_id, @created_at, sqlc.narg(expires_at), @allowed_cidrs::text[])
ON CONFLICT (id) DO NOTHING;

-- name: RotateClientCredential :exec
UPDATE client_credentials SET rotated_at = @rotated_at WHERE id = @id;

-- name: DeleteClientCredential :exec
DELETE FROM client_credentials WHERE id = $1;

-- name: ListClientCredentials :many
SELECT * FROM client_credentials WHERE service_account_id = $1 ORDER BY name;
