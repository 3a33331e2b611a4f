-- name: ReadStreamPositionRange :many
-- The events of one stream with a position in (after, until], oldest first.
-- Within a stream versions are gapless and positions grow with them, so a
-- binary search over versions (about log2 of the stream's length probes of
-- the (stream_id, version) index) finds the last version at or below each
-- bound, and the range between them is read from the index: the cost does not
-- depend on how many events of the stream lie before or after the range, and
-- no index beyond UNIQUE (stream_id, version) is needed. (A filter on
-- position alone would not stop the index scan at until: PostgreSQL cannot
-- know that no later version has a smaller position.)
WITH RECURSIVE
    top (version) AS (
        SELECT COALESCE((SELECT max(h.version) FROM events h WHERE h.stream_id = sqlc.arg(stream_id)::text), 0)::bigint
    ),
    -- Each step probes the middle version; PostgreSQL allows no subquery
    -- around the recursive reference, so the probe is spelled twice.
    below_after (lo, hi) AS (
        SELECT 0::bigint, (SELECT top.version FROM top)
      UNION ALL
        SELECT CASE WHEN (SELECT m.position FROM events m WHERE m.stream_id = sqlc.arg(stream_id)::text AND m.version = (p.lo + p.hi + 1) / 2) <= sqlc.arg(after_position)::bigint
                    THEN (p.lo + p.hi + 1) / 2 ELSE p.lo END,
               CASE WHEN (SELECT m.position FROM events m WHERE m.stream_id = sqlc.arg(stream_id)::text AND m.version = (p.lo + p.hi + 1) / 2) <= sqlc.arg(after_position)::bigint
                    THEN p.hi ELSE (p.lo + p.hi + 1) / 2 - 1 END
        FROM below_after p
        WHERE p.lo < p.hi
    ),
    below_until (lo, hi) AS (
        SELECT 0::bigint, (SELECT top.version FROM top)
      UNION ALL
        SELECT CASE WHEN (SELECT m.position FROM events m WHERE m.stream_id = sqlc.arg(stream_id)::text AND m.version = (p.lo + p.hi + 1) / 2) <= sqlc.arg(until_position)::bigint
                    THEN (p.lo + p.hi + 1) / 2 ELSE p.lo END,
               CASE WHEN (SELECT m.position FROM events m WHERE m.stream_id = sqlc.arg(stream_id)::text AND m.version = (p.lo + p.hi + 1) / 2) <= sqlc.arg(until_position)::bigint
                    THEN p.hi ELSE (p.lo + p.hi + 1) / 2 - 1 END
        FROM below_until p
        WHERE p.lo < p.hi
    )
SELECT ev.*
FROM events ev
WHERE ev.stream_id = sqlc.arg(stream_id)::text
  AND ev.version > (SELECT below_after.lo FROM below_after WHERE below_after.lo = below_after.hi)
  AND ev.version <= (SELECT below_until.lo FROM below_until WHERE below_until.lo = below_until.hi)
ORDER BY ev.version
LIMIT sqlc.arg(max_events)::int;

-- name: ReadStreamVersions :many
-- Chosen events of one stream by version, one index probe each.
SELECT *
FROM events
WHERE stream_id = $1 AND version = ANY(sqlc.arg(versions)::bigint[])
ORDER BY version;
