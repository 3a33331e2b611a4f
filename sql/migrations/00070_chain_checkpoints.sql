-- +goose Up
-- Signed checkpoints of the hash chain: every N events the leader signs the
-- hash at position N*k with the deployment's Ed25519 key. An auditor who kept
-- one can later prove the log still holds exactly that prefix. The table is a
-- convenience copy (the signature, not the row, is the evidence), so the
-- application role may only add rows and mark them published.
CREATE TABLE chain_checkpoints (
    position     bigint      PRIMARY KEY CHECK (position > 0),
    hash         bytea       NOT NULL CHECK (octet_length(hash) = 32),
    recorded_at  timestamptz NOT NULL,
    deployment   text        NOT NULL,
    key_id       text        NOT NULL,
    public_key   bytea       NOT NULL CHECK (octet_length(public_key) = 32),
    signature    bytea       NOT NULL CHECK (octet_length(signature) = 64),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

-- Unpublished rows are few and the publisher looks for them on every tick.
CREATE INDEX chain_checkpoints_unpublished_idx ON chain_checkpoints (position) WHERE published_at IS NULL;

GRANT SELECT, INSERT ON chain_checkpoints TO vault_app;
GRANT UPDATE (published_at) ON chain_checkpoints TO vault_app;

-- +goose Down
DROP TABLE chain_checkpoints;
