-- name: SnapshotAt :one
-- The newest snapshot of a stream in one layout at or below a position (see
-- migrations 00090 and 00095) whose event is still in the log, unchanged: a snapshot the
-- log no longer backs (rewritten, restored from an older backup) is passed
-- over, never used.
SELECT s.stream_id, s.layout, s.position, s.version, s.event_hash, s.state, s.mac, s.mac_key_id
FROM stream_snapshots s
WHERE s.stream_id = $1 AND s.layout = $2 AND s.position <= sqlc.arg(max_position)
  AND EXISTS (
      SELECT 1 FROM events e
      WHERE e.stream_id = s.stream_id AND e.version = s.version
        AND e.position = s.position AND e.hash = s.event_hash
  )
ORDER BY s.position DESC
LIMIT 1;

-- name: SaveSnapshots :batchexec
-- The state at one event of the log never changes, so a snapshot already
-- stored there is kept.
INSERT INTO stream_snapshots (stream_id, layout, position, version, event_hash, state, mac, mac_key_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (stream_id, layout, position) DO NOTHING;

-- name: DeleteSnapshot :exec
-- A snapshot the domain could not restore is removed, so the next fold that
-- passes its event stores a good one in its place.
DELETE FROM stream_snapshots WHERE stream_id = $1 AND layout = $2 AND position = $3;
