-- +goose Up
-- Master keys of the local keyring, each wrapped under the root key
-- (ENCRYPTION_KEY). Rotating adds a row; every vaultd replica loads new rows
-- on its own, so rotation needs no restart.
CREATE TABLE master_keys (
    id          text        PRIMARY KEY,
    wrapped_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    active      boolean     NOT NULL DEFAULT false
);

-- Exactly one key wraps new data keys. The database, not the code, enforces
-- "at most one"; Rotate keeps "at least one".
CREATE UNIQUE INDEX master_keys_one_active ON master_keys ((true)) WHERE active;

-- Wrapped data keys live outside the immutable event log: deleting a row is
-- what destroys a secret version (crypto-shredding), since the ciphertext in
-- the log can then never be decrypted.
CREATE TABLE data_keys (
    owner_id     text        NOT NULL,
    version      bigint      NOT NULL CHECK (version > 0),
    provider     text        NOT NULL,
    key_id       text        NOT NULL,
    wrapped      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz,
    -- A local key's master key may not be retired while it still wraps a
    -- data key: the foreign key makes that race-free across replicas (a
    -- NULL, for other providers, is not checked).
    local_key_id text GENERATED ALWAYS AS (CASE WHEN provider = 'local' THEN key_id END) STORED
                 REFERENCES master_keys (id),
    PRIMARY KEY (owner_id, version)
);

-- Answers "is anything still wrapped under this master key?" before a key is
-- retired, and how much a rewrap has left.
CREATE INDEX data_keys_key_idx ON data_keys (provider, key_id);

-- A deleted or rewrapped row survives as a dead tuple until vacuum. Vacuum
-- this small table eagerly so shredded keys leave the heap soon (WAL and
-- backups still keep them until they expire: that is the operator's part).
ALTER TABLE data_keys SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 50);

REVOKE ALL ON master_keys, data_keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON master_keys TO vault_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON data_keys TO vault_app;

-- +goose Down
DROP TABLE data_keys;
DROP TABLE master_keys;
