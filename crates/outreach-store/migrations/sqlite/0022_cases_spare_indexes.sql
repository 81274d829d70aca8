-- Two indexes of `cases` that no query needs (issue 6): every update that
-- moves a case in the call queue (lease, result, release) wrote into them.
-- `cases_due` (state, due_at) dates from before the queue's own indexes;
-- nothing asks for cases by state across campaigns. `cases_campaign` is the
-- first column of the unique index on (campaign_id, customer_id), which
-- serves the same queries.
DROP INDEX cases_due;
DROP INDEX cases_campaign;
