-- +goose Up
-- One row per relay (keyed by its JetStream stream): the last event position
-- JetStream acknowledged. The stream itself is the authority on what was
-- published (the relay reads its last message on start); this row is what
-- the relay resumes from when the stream is empty (new, purged or expired)
-- and what followers report their lag against.
CREATE TABLE relay_checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON relay_checkpoints TO vault_app;

-- +goose Down
DROP TABLE relay_checkpoints;
