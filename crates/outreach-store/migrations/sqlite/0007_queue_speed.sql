-- Callbacks are looked up per campaign by due time; an index on the
-- callback time alone left the planner scanning every case of the campaign.
DROP INDEX cases_callback;
CREATE INDEX cases_callback ON cases(campaign_id, due_at)
    WHERE callback_at IS NOT NULL AND final_disposition IS NULL;

-- The number of cases is fixed when a campaign is activated; counting them
-- on every read of a campaign cost a scan of up to a million rows.
ALTER TABLE campaigns ADD COLUMN case_count BIGINT NOT NULL DEFAULT 0;
UPDATE campaigns SET case_count = (SELECT COUNT(*) FROM cases k WHERE k.campaign_id = campaigns.id);

-- The chain head follows each appended event in the same statement.
CREATE TRIGGER audit_events_head AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET last_seq = NEW.seq, last_hash = NEW.hash WHERE id = 1;
END;
