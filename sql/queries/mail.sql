-- name: InsertToken :exec
INSERT INTO mail_tokens (lookup, binding, purpose, user_id, source_event_id, expires_at)
VALUES (@lookup, @binding, @purpose, @user_id, @source_event_id, @expires_at);

-- name: GetToken :one
SELECT purpose, user_id, binding, expires_at, (used_at IS NOT NULL)::boolean AS used
FROM mail_tokens WHERE lookup = $1;

-- name: ConsumeToken :execrows
UPDATE mail_tokens SET used_at = @at WHERE lookup = @lookup AND used_at IS NULL;

-- name: DeleteExpiredTokens :execrows
DELETE FROM mail_tokens WHERE expires_at < @before;

-- name: ClaimDelivery :exec
-- Blocks while another transaction decides the same event.
INSERT INTO mail_deliveries (event_id, event_type, user_id, status)
VALUES (@event_id, @event_type, @user_id, 'sending')
ON CONFLICT (event_id) DO NOTHING;

-- name: DeliveryStatus :one
SELECT status FROM mail_deliveries WHERE event_id = $1 FOR UPDATE;

-- name: FinishDelivery :exec
UPDATE mail_deliveries SET status = @status, attempts = @attempts, detail = @detail, updated_at = now()
WHERE event_id = @event_id;

-- name: RecordDelivery :exec
INSERT INTO mail_deliveries (event_id, event_type, user_id, status, attempts, detail)
VALUES (@event_id, @event_type, @user_id, @status, @attempts, @detail)
ON CONFLICT (event_id) DO UPDATE
SET status = EXCLUDED.status, attempts = EXCLUDED.attempts, detail = EXCLUDED.detail, updated_at = now();

-- name: CountDeliveries :many
SELECT status, count(*)::bigint AS n FROM mail_deliveries GROUP BY status;
