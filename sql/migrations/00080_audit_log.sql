-- +goose Up
-- Read model of the `audit` projection: one row per event of the log, keyed
-- by its position, so a replayed page is a no-op and a rebuild reproduces it
-- exactly. It holds ids and names, never a secret value. user_id is text, not
-- uuid: actors also include `system` and `anonymous`.
CREATE TABLE audit_log (
    position      bigint      PRIMARY KEY,
    event_id      uuid        NOT NULL,
    "timestamp"   timestamptz NOT NULL,
    user_id       text        NOT NULL,
    username      text        NOT NULL,
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    outcome       text        NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    ip            inet,
    user_agent    text        NOT NULL,
    request_id    text        NOT NULL,
    event_type    text        NOT NULL
);

-- Every query is newest first by ("timestamp", position) with a keyset
-- cursor, so each index ends with those two columns: the leading equality
-- narrows to one user (or resource), the index order is the answer's order,
-- and LIMIT stops the scan after one page. A backward scan of an ascending
-- btree serves DESC. The time-only index serves queries without a user or
-- resource, with the remaining filters checked on the rows it walks.
-- Appends land at the right edge of every index because positions and times
-- only grow, which keeps the projection's inserts cheap.
CREATE INDEX audit_log_user_idx ON audit_log (user_id, "timestamp", position);
CREATE INDEX audit_log_username_idx ON audit_log (username, "timestamp", position);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, "timestamp", position);
CREATE INDEX audit_log_time_idx ON audit_log ("timestamp", position);

GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log TO vault_app;

-- +goose Down
DROP TABLE audit_log;
