-- +goose Up
-- Read models of the `serviceaccounts` projection: service accounts and their
-- client credentials as the admin endpoints list them. Never a secret or its
-- MAC, and never consulted for an access decision or a token (those fold the
-- log). Disposable: a rebuild deletes every row and replays the log.
CREATE TABLE service_accounts (
    id          uuid        PRIMARY KEY,
    -- "C" collation: byte order matches the keyset cursor.
    name        text        COLLATE "C" NOT NULL,
    description text        NOT NULL DEFAULT '',
    roles       uuid[]      NOT NULL DEFAULT '{}',
    disabled    boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text        NOT NULL
);

CREATE UNIQUE INDEX service_accounts_name_idx ON service_accounts (name);

CREATE TABLE client_credentials (
    id                 uuid        PRIMARY KEY,
    service_account_id uuid        NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    name               text        COLLATE "C" NOT NULL,
    client_id          text        NOT NULL,
    created_at         timestamptz NOT NULL,
    rotated_at         timestamptz,
    expires_at         timestamptz,
    allowed_cidrs      text[]      NOT NULL DEFAULT '{}'
);

CREATE INDEX client_credentials_account_idx ON client_credentials (service_account_id, name);

GRANT SELECT, INSERT, UPDATE, DELETE ON service_accounts, client_credentials TO vault_app;

-- +goose Down
DROP TABLE client_credentials;
DROP TABLE service_accounts;
