-- +goose Up
-- Read models of the `secrets` projection. Metadata only: no value, no
-- ciphertext and no key material ever reaches these tables. They are
-- disposable: a rebuild deletes every row and replays the log.
CREATE TABLE secrets (
    id              uuid        PRIMARY KEY,
    -- "C" collation: byte order matches the keyset cursor, and a btree in
    -- that collation serves starts_with() prefix filters.
    name            text        COLLATE "C" NOT NULL,
    description     text        NOT NULL DEFAULT '',
    tags            text[]      NOT NULL DEFAULT '{}',
    current_version bigint      NOT NULL DEFAULT 0,
    -- Live (not destroyed) versions.
    version_count   bigint      NOT NULL DEFAULT 0,
    state           text        NOT NULL CHECK (state IN ('active', 'deleted')),
    created_at      timestamptz NOT NULL,
    created_by      text        NOT NULL,
    updated_at      timestamptz NOT NULL,
    updated_by      text        NOT NULL
);

CREATE UNIQUE INDEX secrets_name_idx ON secrets (name);
-- Lists hide deleted secrets by default; a partial index keeps that scan short.
CREATE INDEX secrets_active_name_idx ON secrets (name) WHERE state = 'active';
CREATE INDEX secrets_tags_idx ON secrets USING gin (tags);

CREATE TABLE secret_versions (
    secret_id      uuid        NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version        bigint      NOT NULL,
    state          text        NOT NULL CHECK (state IN ('active', 'destroyed')),
    generated      boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    created_by     text        NOT NULL,
    destroyed_at   timestamptz,
    destroyed_by   text,
    destroy_reason text        CHECK (destroy_reason IN ('manual', 'retention')),
    PRIMARY KEY (secret_id, version)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON secrets, secret_versions TO vault_app;

-- +goose Down
DROP TABLE secret_versions;
DROP TABLE secrets;
