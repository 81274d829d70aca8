-- Appending to the audit log without one lock for everybody. Until now each
-- appending transaction locked the chain's head row until it committed, so
-- every audited request in every process waited for the one before it (and
-- its commit). Now an event is inserted in its transaction without a place
-- in the chain (seq, prev_hash and hash empty); a sealer — the server's
-- sealing task, or the committing transaction itself where none runs — takes
-- the head, gives the committed events their places in the order they were
-- appended, and moves the head, in one transaction. Readers of the log seal
-- first. An event is only ever written once more: when it is sealed.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD COLUMN id BIGSERIAL PRIMARY KEY;
ALTER TABLE audit_events ALTER COLUMN seq DROP NOT NULL,
    ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN hash DROP NOT NULL;
CREATE UNIQUE INDEX audit_events_seq ON audit_events(seq);
CREATE INDEX audit_events_unsealed ON audit_events(id) WHERE seq IS NULL;

-- The head moves when events are sealed, not per inserted event.
DROP TRIGGER audit_events_head ON audit_events;
DROP FUNCTION audit_events_head();

-- Audit events are never changed, except that an unsealed event gets its
-- place in the chain once; removed only up to the retention anchor.
CREATE OR REPLACE FUNCTION audit_events_protect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND OLD.hash IS NULL AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
           AND NEW.prev_hash IS NOT NULL AND NEW.id = OLD.id
           AND (NEW.at, NEW.user_id, NEW.username, NEW.role, NEW.action, NEW.record_type, NEW.record_id,
                NEW.fields, NEW.purpose, NEW.client, NEW.job_center_id, NEW.service_center_id)
               IS NOT DISTINCT FROM
               (OLD.at, OLD.user_id, OLD.username, OLD.role, OLD.action, OLD.record_type, OLD.record_id,
                OLD.fields, OLD.purpose, OLD.client, OLD.job_center_id, OLD.service_center_id) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit events cannot be changed';
    END IF;
    IF OLD.seq IS NULL OR OLD.seq > (SELECT through_seq FROM audit_retention WHERE id = 1) THEN
        RAISE EXCEPTION 'audit events are removed by retention only';
    END IF;
    RETURN OLD;
END
$$;
