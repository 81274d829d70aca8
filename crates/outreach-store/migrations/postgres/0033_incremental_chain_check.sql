-- The daily check of the audit chain starts where the last intact check
-- ended (its last event's place and hash); a full check from the start
-- runs weekly and on demand.
ALTER TABLE audit_checks ADD COLUMN through_seq BIGINT;
ALTER TABLE audit_checks ADD COLUMN through_hash TEXT;
ALTER TABLE audit_checks ADD COLUMN full_check BOOLEAN NOT NULL DEFAULT TRUE;
