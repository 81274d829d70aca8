-- PostgreSQL replaces the row-by-row foreign key customers.job_center_id with
-- a check per statement (see migrations/postgres/0013). SQLite's foreign-key
-- check is cheap and stays; the rule that a customer's job center never
-- changes holds here too.
CREATE TRIGGER customers_job_center_fixed BEFORE UPDATE OF job_center_id ON customers
    WHEN NEW.job_center_id IS NOT OLD.job_center_id
BEGIN
    SELECT RAISE(ABORT, 'a customer''s job center never changes');
END;
