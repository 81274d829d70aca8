-- Loading a job center's export of a million customers: the foreign key
-- customers.job_center_id → job_centers(id) was checked row by row (one
-- lookup per inserted customer, about a third of the time of a first import).
-- The same rule is now kept per statement:
--  * after every INSERT into customers, one check walks the distinct job
--    centers of the table along the (job_center_id, customer_number) index
--    (one probe per job center, not per row), fails if one is unknown, and
--    locks the known ones FOR KEY SHARE as the foreign key did;
--  * a customer's job center never changes;
--  * a job center with customers can't be deleted or renumbered.
ALTER TABLE customers DROP CONSTRAINT customers_job_center_id_fkey;

CREATE FUNCTION customers_job_centers_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    present BIGINT[];
    known BIGINT;
BEGIN
    WITH RECURSIVE ids(id) AS (
        (SELECT job_center_id FROM customers ORDER BY job_center_id LIMIT 1)
        UNION ALL
        SELECT (SELECT c.job_center_id FROM customers c WHERE c.job_center_id > ids.id
                ORDER BY c.job_center_id LIMIT 1)
        FROM ids WHERE ids.id IS NOT NULL
    )
    SELECT COALESCE(array_agg(id), '{}') INTO present FROM ids WHERE id IS NOT NULL;
    SELECT COUNT(*) INTO known
      FROM (SELECT id FROM job_centers WHERE id = ANY(present) FOR KEY SHARE) j;
    IF known < cardinality(present) THEN
        RAISE EXCEPTION 'customers refer to a job center that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_job_center_check AFTER INSERT ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION customers_job_centers_exist();

CREATE FUNCTION customers_job_center_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.job_center_id IS DISTINCT FROM OLD.job_center_id THEN
        RAISE EXCEPTION 'a customer''s job center never changes'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER customers_job_center_fixed BEFORE UPDATE OF job_center_id ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_job_center_fixed();

CREATE FUNCTION job_centers_keep_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id)
       AND EXISTS (SELECT 1 FROM customers WHERE job_center_id = OLD.id) THEN
        RAISE EXCEPTION 'the job center still has customers'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER job_centers_keep_customers BEFORE DELETE OR UPDATE OF id ON job_centers
    FOR EACH ROW EXECUTE FUNCTION job_centers_keep_customers();
