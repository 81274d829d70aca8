-- Loading a job center's first export, part two (issue 3). Measured in psql
-- with 1M rows: COPY into customers spent its time on two things the rows
-- don't need.
--
-- 1. customer_number and pap_code are codes, not names: they compare byte by
--    byte (COLLATE "C") instead of through the locale's collation, which the
--    two indexes on them called about twenty times per inserted row.
ALTER TABLE customers ALTER COLUMN customer_number TYPE TEXT COLLATE "C";
ALTER TABLE customers ALTER COLUMN pap_code TYPE TEXT COLLATE "C";

-- 2. The foreign key customers.restricted_by → users(id) queued an event per
--    inserted row, though a new customer is never restricted, and fetched
--    every row again at the end of the statement to find its value NULL.
--    The same rule, kept by triggers that only fire where a restriction is
--    recorded: the user exists (and is locked FOR KEY SHARE as the foreign
--    key did), and a user who recorded a restriction can't be deleted or
--    renumbered.
ALTER TABLE customers DROP CONSTRAINT customers_restricted_by_fkey;
CREATE INDEX customers_restricted_by ON customers(restricted_by) WHERE restricted_by IS NOT NULL;

CREATE FUNCTION customers_restricted_by_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.restricted_by FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customers.restricted_by refers to a user that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_restricted_by_check AFTER INSERT OR UPDATE OF restricted_by ON customers
    FOR EACH ROW WHEN (NEW.restricted_by IS NOT NULL)
    EXECUTE FUNCTION customers_restricted_by_exists();

CREATE FUNCTION users_keep_restrictions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id)
       AND EXISTS (SELECT 1 FROM customers WHERE restricted_by = OLD.id) THEN
        RAISE EXCEPTION 'the user recorded a restriction of a customer'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER users_keep_restrictions BEFORE DELETE OR UPDATE OF id ON users
    FOR EACH ROW EXECUTE FUNCTION users_keep_restrictions();
