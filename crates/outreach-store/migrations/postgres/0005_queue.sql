-- The call queue: the order of fresh cases (customers under 25 first, then
-- the longest without personal contact), attempts with the number used and an
-- agreed callback, and indexes for each kind of lease.
ALTER TABLE cases ADD COLUMN queue_group BIGINT NOT NULL DEFAULT 1;
ALTER TABLE cases ADD COLUMN queue_contact TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN callback_at BIGINT;

CREATE INDEX cases_fresh ON cases(campaign_id, queue_group, queue_contact)
    WHERE final_disposition IS NULL AND attempts_count = 0;
CREATE INDEX cases_retry ON cases(campaign_id, due_at)
    WHERE final_disposition IS NULL AND attempts_count > 0;
CREATE INDEX cases_callback ON cases(callback_at)
    WHERE callback_at IS NOT NULL AND final_disposition IS NULL;
-- An agent holds at most one lease.
CREATE UNIQUE INDEX cases_one_lease ON cases(leased_to) WHERE leased_to IS NOT NULL;
