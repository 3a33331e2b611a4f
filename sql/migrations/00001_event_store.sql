-- +goose Up
-- The event log is the source of truth. Data and metadata are `json`, not
-- `jsonb`, because the hash chain covers the exact bytes that were appended
-- and jsonb would normalise them.
CREATE TABLE events (
    position       bigint      PRIMARY KEY,
    stream_id      text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    event_id       uuid        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    data           json        NOT NULL,
    metadata       json        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- recorded_at only grows with position (the head row enforces it), so a BRIN
-- index answers time-travel lookups at almost no cost to appends.
CREATE INDEX events_recorded_at_idx ON events USING brin (recorded_at);

-- One row holds the head of the chain. Appenders lock it for the length of
-- their transaction: that lock is the global order of the log, so positions
-- are gapless and no reader can see N+1 before N has committed.
-- recorded_at keeps event times monotonic in position order even when the
-- clocks of several vaultd replicas disagree, which time travel relies on.
CREATE TABLE event_chain_head (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    position    bigint      NOT NULL,
    hash        bytea       NOT NULL,
    recorded_at timestamptz NOT NULL
);
INSERT INTO event_chain_head (singleton, position, hash, recorded_at)
VALUES (true, 0, decode(repeat('00', 32), 'hex'), '-infinity');

-- Snapshots are a cache of folded aggregate state. Deleting every row is
-- always safe: aggregates are then folded from the log.
CREATE TABLE snapshots (
    stream_id      text        PRIMARY KEY,
    version        bigint      NOT NULL,
    schema_version integer     NOT NULL,
    state          jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
CREATE FUNCTION events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on events is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_reject_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

-- The application role may read and append, never rewrite. Roles are shared
-- by the whole cluster, so several databases (and parallel test runs) may
-- race to create it: losing that race is fine.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE ROLE vault_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END;
$$;
-- +goose StatementEnd
REVOKE ALL ON events FROM PUBLIC;
GRANT SELECT, INSERT ON events TO vault_app;
REVOKE UPDATE, DELETE, TRUNCATE ON events FROM vault_app;
GRANT SELECT, UPDATE ON event_chain_head TO vault_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON snapshots TO vault_app;

-- +goose Down
DROP TABLE snapshots;
DROP TABLE event_chain_head;
DROP TABLE events;
DROP FUNCTION events_reject_change();
