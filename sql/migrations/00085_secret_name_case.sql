-- +goose Up
-- Secret names are case-insensitive from now on: new names are stored
-- folded to lowercase and reserved under their folded form. Names recorded
-- before that keep their capitals (the log is never rewritten), and a new
-- name must not become the lowercase twin of one of them. This partial
-- index holds only those legacy names, so the check on each create is one
-- probe of an index that stays empty on a vault created after the change.
CREATE INDEX secrets_mixed_case_name_idx ON secrets (lower(name)) WHERE name <> lower(name);

-- +goose Down
DROP INDEX secrets_mixed_case_name_idx;
