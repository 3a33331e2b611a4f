-- +goose Up
-- Read models of the `identity` projection: users, roles and policies as the
-- admin endpoints list them. They never hold a password or its hash, and they
-- are never consulted for an access decision (that is folded from the log).
-- They are disposable: a rebuild deletes every row and replays the log.
CREATE TABLE users (
    id         uuid        PRIMARY KEY,
    -- "C" collation: byte order matches the keyset cursor, and the btree in
    -- that collation serves the prefix filter.
    username   text        COLLATE "C" NOT NULL,
    email      text        NOT NULL DEFAULT '',
    roles      uuid[]      NOT NULL DEFAULT '{}',
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL
);

CREATE UNIQUE INDEX users_username_idx ON users (username);

CREATE TABLE roles (
    id          uuid        PRIMARY KEY,
    name        text        COLLATE "C" NOT NULL,
    description text        NOT NULL DEFAULT '',
    policies    uuid[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text        NOT NULL
);

CREATE UNIQUE INDEX roles_name_idx ON roles (name);

CREATE TABLE policies (
    id          uuid        PRIMARY KEY,
    name        text        COLLATE "C" NOT NULL,
    description text        NOT NULL DEFAULT '',
    statements  jsonb       NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text        NOT NULL
);

CREATE UNIQUE INDEX policies_name_idx ON policies (name);

GRANT SELECT, INSERT, UPDATE, DELETE ON users, roles, policies TO vault_app;

-- +goose Down
DROP TABLE policies;
DROP TABLE roles;
DROP TABLE users;
