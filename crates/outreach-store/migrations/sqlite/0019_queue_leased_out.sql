-- Leased cases leave the queue's indexes (issue 6). A leased case stayed in
-- the index of its kind until its attempt's result: with 300 agents each
-- holding a fresh case, every "next case" visited ~300 leased rows at the
-- front of the fresh queue and skipped them one by one (on PostgreSQL a heap
-- fetch each). Now the kinds' indexes hold only cases nobody leases; an
-- expired lease is handed back to the queue by the next "next case" of
-- anyone (through an index of running leases by expiry), so it is found
-- again exactly as before.
DROP INDEX cases_fresh;
CREATE INDEX cases_fresh ON cases(campaign_id, queue_group, queue_contact)
    WHERE final_disposition IS NULL AND attempts_count = 0 AND leased_to IS NULL;
DROP INDEX cases_retry;
CREATE INDEX cases_retry ON cases(campaign_id, due_at)
    WHERE final_disposition IS NULL AND attempts_count > 0 AND leased_to IS NULL;
DROP INDEX cases_callback;
CREATE INDEX cases_callback ON cases(campaign_id, due_at)
    WHERE callback_at IS NOT NULL AND final_disposition IS NULL AND leased_to IS NULL;
-- Running leases by expiry. Its predicate is on the expiry (set and cleared
-- with leased_to): one on leased_to let PostgreSQL's planner read all
-- running leases through it to find one agent's, instead of cases_one_lease.
CREATE INDEX cases_lease_expiry ON cases(lease_expires_at) WHERE lease_expires_at IS NOT NULL;
