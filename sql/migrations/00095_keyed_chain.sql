-- +goose Up
-- Tamper evidence against someone who owns the database. From here on each
-- event's link is HMAC-SHA256 under a chain key that only vaultd holds
-- (VAULT_CHAIN_KEY); hash_key_id names that key by a fingerprint, never the
-- key itself. Events written before this migration keep their SHA-256 links
-- and a NULL key id: nothing in the log is rewritten. The first keyed link
-- (a ChainKeyed event vaultd appends on start-up) covers the last SHA-256
-- hash, which seals the unkeyed prefix.
ALTER TABLE events ADD COLUMN hash_key_id text;

-- The chain head only moves forward, and only onto an event that exists with
-- exactly that hash: the application role can move it the way an append
-- does and no other way (moving it back is how a truncated tail would be
-- hidden). The check is one primary-key probe per batch.
-- +goose StatementBegin
CREATE FUNCTION event_chain_head_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'the chain head is a single row: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.position < OLD.position THEN
        RAISE EXCEPTION 'the chain head only moves forward (from % to %)', OLD.position, NEW.position
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.position > 0 AND NOT EXISTS (
        SELECT 1 FROM events WHERE position = NEW.position AND hash = NEW.hash
    ) THEN
        RAISE EXCEPTION 'the chain head must point at the stored event at position %', NEW.position
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER event_chain_head_forward
    BEFORE UPDATE OR DELETE ON event_chain_head
    FOR EACH ROW EXECUTE FUNCTION event_chain_head_forward_only();

CREATE TRIGGER event_chain_head_no_truncate
    BEFORE TRUNCATE ON event_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

REVOKE ALL ON event_chain_head FROM vault_app;
GRANT SELECT ON event_chain_head TO vault_app;
GRANT UPDATE (position, hash, recorded_at) ON event_chain_head TO vault_app;

-- Snapshots are authenticated too (a forged snapshot could carry a forged
-- role or policy): each one carries an HMAC under the chain key over the
-- exact bytes of its state and the event it names. Snapshots are a cache, so
-- the old ones are dropped rather than authenticated after the fact;
-- aggregates fold from the log until they are snapshotted again.
DELETE FROM stream_snapshots;
ALTER TABLE stream_snapshots ADD COLUMN mac bytea NOT NULL;
ALTER TABLE stream_snapshots ADD COLUMN mac_key_id text NOT NULL;

-- vaultd runs migrations as the connecting (owner) role and everything else
-- as vault_app (SET ROLE on each pooled connection). The readiness check
-- lists applied migrations, so the application role may read goose's table.
GRANT SELECT ON goose_db_version TO vault_app;

-- SET ROLE needs membership. A superuser has it implicitly; a non-superuser
-- owner that may create roles is given it here. Roles are shared by the
-- whole cluster, so parallel migrations of several databases may race to
-- grant it: losing that race is fine.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'vault_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT vault_app TO %I', current_user);
        EXCEPTION
            WHEN unique_violation OR duplicate_object THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role % cannot SET ROLE vault_app: ask a database administrator to run GRANT vault_app TO %', current_user, current_user;
        END;
    END IF;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER event_chain_head_no_truncate ON event_chain_head;
DROP TRIGGER event_chain_head_forward ON event_chain_head;
DROP FUNCTION event_chain_head_forward_only();
GRANT SELECT, UPDATE ON event_chain_head TO vault_app;
DELETE FROM stream_snapshots;
ALTER TABLE stream_snapshots DROP COLUMN mac_key_id;
ALTER TABLE stream_snapshots DROP COLUMN mac;
ALTER TABLE events DROP COLUMN hash_key_id;
