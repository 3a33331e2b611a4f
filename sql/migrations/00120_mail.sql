-- +goose Up
-- Account e-mail (package mail). Tokens are stored only as two hashes of
-- the token (see domain.EmailToken): the row's key, and a binding to the
-- user's state the token may act on. Nothing here can be turned back into
-- a link.
CREATE TABLE mail_tokens (
    lookup          bytea       PRIMARY KEY,
    binding         bytea       NOT NULL,
    purpose         text        NOT NULL,
    user_id         uuid        NOT NULL,
    source_event_id uuid        NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX mail_tokens_expires_idx ON mail_tokens (expires_at);

-- One row per event that asked for a mail: the consumer's idempotency
-- record. A delivery is decided inside a transaction that holds this row,
-- so two replicas (or a redelivery) never send one event's mail twice.
CREATE TABLE mail_deliveries (
    event_id   uuid        PRIMARY KEY,
    event_type text        NOT NULL,
    user_id    uuid        NOT NULL,
    -- sending (only inside the deciding transaction), sent, skipped, dead
    status     text        NOT NULL,
    attempts   integer     NOT NULL DEFAULT 0,
    detail     text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Forgot-password finds users by address in the identity read model.
CREATE INDEX users_email_lower_idx ON users (lower(email)) WHERE email <> '';

GRANT SELECT, INSERT, UPDATE, DELETE ON mail_tokens, mail_deliveries TO vault_app;

-- +goose Down
DROP INDEX users_email_lower_idx;
DROP TABLE mail_deliveries;
DROP TABLE mail_tokens;
