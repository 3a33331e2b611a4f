-- Queries of the `audit` projection (projections/audit).

-- name: InsertAuditEntries :exec
-- One statement per page of events; a replayed page inserts nothing.
INSERT INTO audit_log (position, event_id, "timestamp", user_id, username, action, resource_type,
                       resource_id, outcome, ip, user_agent, request_id, event_type)
SELECT u.position, u.event_id::uuid, u.ts, u.user_id, u.username, u.action, u.resource_type,
       u.resource_id, u.outcome, NULLIF(u.ip, '')::inet, u.user_agent, u.request_id, u.event_type
FROM (SELECT unnest(@positions::bigint[]) AS position, unnest(@event_ids::text[]) AS event_id,
             unnest(@timestamps::timestamptz[]) AS ts, unnest(@user_ids::text[]) AS user_id,
             unnest(@usernames::text[]) AS username, unnest(@actions::text[]) AS action,
             unnest(@resource_types::text[]) AS resource_type, unnest(@resource_ids::text[]) AS resource_id,
             unnest(@outcomes::text[]) AS outcome, unnest(@ips::text[]) AS ip,
             unnest(@user_agents::text[]) AS user_agent, unnest(@request_ids::text[]) AS request_id,
             unnest(@event_types::text[]) AS event_type) AS u
ON CONFLICT (position) DO NOTHING;

-- name: DeleteAuditLog :exec
DELETE FROM audit_log;

-- name: GetAuditEntry :one
SELECT position, event_id::text AS event_id, "timestamp", user_id, username, action, resource_type, resource_id, outcome, COALESCE(host(ip), '')::text AS ip, user_agent, request_id, event_type
FROM audit_log WHERE position = @position;

-- The list queries differ only in the leading condition, so that each one
-- has a plan built around its own index even when PostgreSQL switches to a
-- generic plan for a cached prepared statement (a single query with
-- "@user = '' OR user_id = @user" would then lose the index).

-- name: ListAuditByUserID :many
SELECT position, event_id::text AS event_id, "timestamp", user_id, username, action, resource_type, resource_id, outcome, COALESCE(host(ip), '')::text AS ip, user_agent, request_id, event_type
FROM audit_log
WHERE user_id = @user_id::text
  AND "timestamp" >= @since::timestamptz AND "timestamp" < @until::timestamptz
  AND ("timestamp", position) < (@before_timestamp::timestamptz, @before_position::bigint)
  AND (@action::text = '' OR action = @action::text)
  AND (@resource_type::text = '' OR resource_type = @resource_type::text)
  AND (@resource_id::text = '' OR resource_id = @resource_id::text)
  AND (@outcome::text = '' OR outcome = @outcome::text)
  AND (@ip::text = '' OR ip <<= NULLIF(@ip::text, '')::inet)
ORDER BY "timestamp" DESC, position DESC
LIMIT @max_rows;

-- name: ListAuditByUsername :many
SELECT position, event_id::text AS event_id, "timestamp", user_id, username, action, resource_type, resource_id, outcome, COALESCE(host(ip), '')::text AS ip, user_agent, request_id, event_type
FROM audit_log
WHERE username = @username::text
  AND "timestamp" >= @since::timestamptz AND "timestamp" < @until::timestamptz
  AND ("timestamp", position) < (@before_timestamp::timestamptz, @before_position::bigint)
  AND (@action::text = '' OR action = @action::text)
  AND (@resource_type::text = '' OR resource_type = @resource_type::text)
  AND (@resource_id::text = '' OR resource_id = @resource_id::text)
  AND (@outcome::text = '' OR outcome = @outcome::text)
  AND (@ip::text = '' OR ip <<= NULLIF(@ip::text, '')::inet)
ORDER BY "timestamp" DESC, position DESC
LIMIT @max_rows;

-- name: ListAuditByResource :many
SELECT position, event_id::text AS event_id, "timestamp", user_id, username, action, resource_type, resource_id, outcome, COALESCE(host(ip), '')::text AS ip, user_agent, request_id, event_type
FROM audit_log
WHERE resource_type = @resource_type::text AND resource_id = @resource_id::text
  AND "timestamp" >= @since::timestamptz AND "timestamp" < @until::timestamptz
  AND ("timestamp", position) < (@before_timestamp::timestamptz, @before_position::bigint)
  AND (@action::text = '' OR action = @action::text)
  AND (@resource_type::text = '' OR resource_type = @resource_type::text)
  AND (@resource_id::text = '' OR resource_id = @resource_id::text)
  AND (@outcome::text = '' OR outcome = @outcome::text)
  AND (@ip::text = '' OR ip <<= NULLIF(@ip::text, '')::inet)
ORDER BY "timestamp" DESC, position DESC
LIMIT @max_rows;

-- name: ListAudit :many
SELECT position, event_id::text AS event_id, "timestamp", user_id, username, action, resource_type, resource_id, outcome, COALESCE(host(ip), '')::text AS ip, user_agent, request_id, event_type
FROM audit_log
WHERE true
  AND "timestamp" >= @since::timestamptz AND "timestamp" < @until::timestamptz
  AND ("timestamp", position) < (@before_timestamp::timestamptz, @before_position::bigint)
  AND (@action::text = '' OR action = @action::text)
  AND (@resource_type::text = '' OR resource_type = @resource_type::text)
  AND (@resource_id::text = '' OR resource_id = @resource_id::text)
  AND (@outcome::text = '' OR outcome = @outcome::text)
  AND (@ip::text = '' OR ip <<= NULLIF(@ip::text, '')::inet)
ORDER BY "timestamp" DESC, position DESC
LIMIT @max_rows;
