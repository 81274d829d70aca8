-- Safeguards of audit retention (issue 21): what retention removed so far
-- and when, so that a chain check of "1 event" after 106 were removed says
-- so; and a hold, set when one run would remove more than a tenth of the
-- log (a moved database clock, a wrong setting), released by
-- `outreach purge --confirm-audit-retention`.
ALTER TABLE audit_retention ADD COLUMN removed_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_retention ADD COLUMN last_removed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_retention ADD COLUMN last_removed_at BIGINT;
ALTER TABLE audit_retention ADD COLUMN held_at BIGINT;
ALTER TABLE audit_retention ADD COLUMN held_events BIGINT;
ALTER TABLE audit_retention ADD COLUMN held_of BIGINT;
-- Events are numbered from 1 without gaps, so those up to the anchor are
-- the ones removed; the last deletion run is when, as far as is known.
UPDATE audit_retention SET removed_total = through_seq, last_removed = 0,
    last_removed_at = CASE WHEN through_seq > 0 THEN (SELECT MAX(ran_at) FROM purge_runs) END
    WHERE id = 1;
