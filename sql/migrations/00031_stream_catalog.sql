-- +goose Up
-- Read model of the `streams` projection: one row per stream of the log, for
-- admin tooling and as the projection the runner's tests and benchmarks use.
-- It is disposable: a rebuild deletes every row and replays the log.
CREATE TABLE stream_catalog (
    stream_id         text        PRIMARY KEY,
    aggregate         text        NOT NULL,
    version           bigint      NOT NULL,
    last_position     bigint      NOT NULL,
    first_recorded_at timestamptz NOT NULL,
    last_recorded_at  timestamptz NOT NULL
);

CREATE INDEX stream_catalog_aggregate_idx ON stream_catalog (aggregate, stream_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON stream_catalog TO vault_app;

-- +goose Down
DROP TABLE stream_catalog;
