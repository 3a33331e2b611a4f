-- +goose Up
-- Snapshots by position: folded aggregate state at many events of a stream,
-- not only the latest, so a read as of any instant starts from the nearest
-- snapshot at or before it instead of folding the stream from its start.
-- They are a cache: deleting every row is always safe.
--
-- position, version and event_hash name the event the state was folded up to;
-- a snapshot is only used while the log still holds exactly that event there.
-- layout is the aggregate's state layout, so snapshots of an older layout are
-- passed over (and never block a newer one at the same position) instead of
-- failing every load. Rows are never updated: the state at one event of the
-- log is always the same.
CREATE TABLE stream_snapshots (
    stream_id  text        NOT NULL,
    layout     integer     NOT NULL CHECK (layout > 0),
    position   bigint      NOT NULL CHECK (position > 0),
    version    bigint      NOT NULL CHECK (version > 0),
    event_hash bytea       NOT NULL,
    state      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, layout, position)
);

GRANT SELECT, INSERT, DELETE ON stream_snapshots TO vault_app;

-- The one-row-per-stream table it replaces: a cache, so nothing is migrated.
DROP TABLE snapshots;

-- +goose Down
CREATE TABLE snapshots (
    stream_id      text        PRIMARY KEY,
    version        bigint      NOT NULL,
    schema_version integer     NOT NULL,
    state          jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON snapshots TO vault_app;
DROP TABLE stream_snapshots;
