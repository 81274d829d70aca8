-- Data protection operations (issue 8): retention, restriction and disputed
-- values, the audit log's protection and its daily check, kept statistics.

-- Days a job center keeps a result after it was handed over to its own system.
ALTER TABLE job_centers ADD COLUMN result_retention_days BIGINT NOT NULL DEFAULT 30;

-- Restriction of processing (Art. 18 GDPR): when, by whom, why.
ALTER TABLE customers ADD COLUMN restricted_at BIGINT;
ALTER TABLE customers ADD COLUMN restricted_by BIGINT REFERENCES users(id);
ALTER TABLE customers ADD COLUMN restriction_note TEXT NOT NULL DEFAULT '';

-- A stored value of a customer that the customer disputes (§ 84 SGB X): kept,
-- flagged, shown with the flag.
CREATE TABLE customer_disputes (
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    field TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    marked_by BIGINT REFERENCES users(id),
    marked_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, field)
);

-- The audit chain's anchor: events up to `through_seq` were removed by
-- retention; the first remaining event must chain to `through_hash`.
CREATE TABLE audit_retention (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq BIGINT NOT NULL,
    through_hash TEXT NOT NULL
);
INSERT INTO audit_retention (id, through_seq, through_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Audit events are never changed, and removed only up to the anchor, which
-- only moves forward.
CREATE FUNCTION audit_events_protect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit events cannot be changed';
    END IF;
    IF OLD.seq > (SELECT through_seq FROM audit_retention WHERE id = 1) THEN
        RAISE EXCEPTION 'audit events are removed by retention only';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER audit_events_protect BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_protect();
CREATE FUNCTION audit_retention_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.through_seq < OLD.through_seq THEN
        RAISE EXCEPTION 'the retention anchor only moves forward';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_retention_forward BEFORE UPDATE ON audit_retention
    FOR EACH ROW EXECUTE FUNCTION audit_retention_forward();

-- Each check of the chain (daily, or asked for by the DPO) and its verdict.
CREATE TABLE audit_checks (
    id BIGSERIAL PRIMARY KEY,
    checked_at BIGINT NOT NULL,
    events_checked BIGINT NOT NULL,
    broken_seq BIGINT,
    reason TEXT NOT NULL DEFAULT ''
);

-- A campaign's report figures, kept as an anonymous aggregate when its cases
-- are deleted (counts only, no person).
CREATE TABLE campaign_statistics (
    campaign_id BIGINT PRIMARY KEY REFERENCES campaigns(id),
    figures TEXT NOT NULL,
    saved_at BIGINT NOT NULL
);

-- Each deletion run: what went, by category.
CREATE TABLE purge_runs (
    id BIGSERIAL PRIMARY KEY,
    ran_at BIGINT NOT NULL,
    summary TEXT NOT NULL
);
