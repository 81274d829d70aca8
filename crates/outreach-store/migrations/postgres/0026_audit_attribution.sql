-- Whose data an audit event is about (issue 23). An event written by a
-- service center's agent or supervisor carries no job center of its own, so
-- the job center's DPO did not see it, although it is responsible for the
-- processing done on its behalf (§ 80 SGB X). The hashed event stays as it
-- is; beside the chain, `audit_attribution` names the job center whose
-- customer, case, result, invitation, campaign, print batch or mandate the
-- event concerns (else the event's own job center), the service center that
-- acted and the customer. It is written with each event (the trigger below,
-- for every way into `audit_events`), filled here for the events already
-- stored, and outlives the case or customer it names: only the event's own
-- removal by retention takes it along.
CREATE TABLE audit_attribution (
    event_id BIGINT PRIMARY KEY REFERENCES audit_events(id) ON DELETE CASCADE,
    job_center_id BIGINT,
    service_center_id BIGINT,
    customer_id BIGINT
);
CREATE INDEX audit_attribution_job_center ON audit_attribution(job_center_id, event_id);
CREATE INDEX audit_attribution_customer ON audit_attribution(customer_id)
    WHERE customer_id IS NOT NULL;

-- The one definition of what an event is about, from its record as the
-- store holds it now. A customer event names the customer by number (in the
-- event's job center); until this migration the campaign's case page and
-- the objection named it by id.
CREATE VIEW audit_event_subjects AS
SELECT s.event_id,
       COALESCE((SELECT c.job_center_id FROM customers c WHERE c.id = s.customer_id),
                s.record_job_center_id, s.own_job_center_id) AS job_center_id,
       s.service_center_id,
       s.customer_id
FROM (
    SELECT e.id AS event_id,
           e.job_center_id AS own_job_center_id,
           e.service_center_id,
           CASE e.record_type
               WHEN 'case' THEN (SELECT k.customer_id FROM cases k WHERE k.id = e.rid)
               WHEN 'invitation' THEN (SELECT i.customer_id FROM invitations i WHERE i.id = e.rid)
               WHEN 'customer' THEN COALESCE(
                   (SELECT c.id FROM customers c
                    WHERE c.job_center_id = e.job_center_id AND c.customer_number = e.record_id),
                   (SELECT c.id FROM customers c
                    WHERE c.id = e.rid AND c.job_center_id = e.job_center_id
                      AND (e.action = 'objection_record'
                           OR (e.action = 'customer_read' AND e.purpose LIKE 'Aktion „%'))))
           END AS customer_id,
           CASE e.record_type
               WHEN 'campaign' THEN (SELECT k.job_center_id FROM campaigns k WHERE k.id = e.rid)
               WHEN 'letter_batch' THEN (SELECT k.job_center_id FROM letter_batches b
                                         JOIN campaigns k ON k.id = b.campaign_id WHERE b.id = e.rid)
               WHEN 'mandate' THEN (SELECT m.job_center_id FROM mandates m WHERE m.id = e.rid)
               WHEN 'job_center' THEN (SELECT j.id FROM job_centers j WHERE j.id = e.rid)
           END AS record_job_center_id
    FROM (SELECT a.id, a.record_type, a.record_id, a.action, a.purpose, a.job_center_id,
                 a.service_center_id,
                 CASE WHEN a.record_id ~ '^[0-9]{1,18}$' THEN CAST(a.record_id AS BIGINT) END AS rid
          FROM audit_events a) e
) s;

INSERT INTO audit_attribution (event_id, job_center_id, service_center_id, customer_id)
SELECT event_id, job_center_id, service_center_id, customer_id FROM audit_event_subjects
WHERE job_center_id IS NOT NULL OR service_center_id IS NOT NULL OR customer_id IS NOT NULL;

CREATE FUNCTION audit_events_attribute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_attribution (event_id, job_center_id, service_center_id, customer_id)
    SELECT event_id, job_center_id, service_center_id, customer_id FROM audit_event_subjects
    WHERE event_id = NEW.id
      AND (job_center_id IS NOT NULL OR service_center_id IS NOT NULL OR customer_id IS NOT NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_attribute AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_attribute();

-- Like the events, their attribution is never changed, and goes only with
-- its event.
CREATE FUNCTION audit_attribution_protect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM audit_events WHERE id = OLD.event_id) THEN
        RAISE EXCEPTION 'the attribution of audit events cannot be changed';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER audit_attribution_protect BEFORE UPDATE OR DELETE ON audit_attribution
    FOR EACH ROW EXECUTE FUNCTION audit_attribution_protect();
