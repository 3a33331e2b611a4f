-- +goose Up
-- One row per projection: the last event position its read model reflects.
-- The runner updates it in the same transaction as the read model, so the
-- two can never disagree, and locks it (FOR UPDATE) to read it, so two
-- runners can never apply the same page.
CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO vault_app;

-- +goose Down
DROP TABLE projection_checkpoints;
