-- A renewed lease without index writes (issue 6). Migration 0019 indexed the
-- running leases by expiry so that every "next case" could hand expired
-- leases back to the queue. That made each renewal of a lease an update of an
-- indexed column: PostgreSQL wrote a new entry into every index of `cases`
-- (about seven) where it had updated the row in place (a HOT update), and
-- SQLite wrote the expiry index. Expired leases are now handed back at most
-- every few seconds per server (the caller says when, `p_sweep`), found
-- through the index of leased cases (`cases_one_lease`, one entry per
-- agent), and the expiry is no longer indexed.
DROP INDEX cases_lease_expiry;
-- Room on each page for a renewed row beside the old one (HOT updates);
-- applies to pages written from now on.
ALTER TABLE cases SET (fillfactor = 90);

DROP FUNCTION queue_lease(BIGINT, BIGINT, TEXT, TEXT, TEXT, BIGINT);
CREATE FUNCTION queue_lease(
    p_agent BIGINT, p_now BIGINT, p_holidays TEXT, p_campaigns TEXT, p_cutoffs TEXT,
    p_lease_seconds BIGINT, p_sweep BOOLEAN
) RETURNS TABLE (kind INTEGER, case_id BIGINT, campaign_id BIGINT, expires_at BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    k INTEGER;
    i INTEGER;
    found_id BIGINT;
    holidays TEXT := ',' || p_holidays || ',';
    campaigns BIGINT[] := string_to_array(p_campaigns, ',')::BIGINT[];
    cutoffs TEXT[] := string_to_array(p_cutoffs, ',');
BEGIN
    -- One request per agent at a time (two tabs, two servers).
    PERFORM 1 FROM users WHERE id = p_agent FOR UPDATE;
    -- By the agent alone (cases_one_lease); the expiry is checked here.
    SELECT 4, c.id, c.campaign_id, c.lease_expires_at INTO kind, case_id, campaign_id, expires_at
      FROM cases c
     WHERE c.leased_to = p_agent AND c.final_disposition IS NULL;
    IF FOUND AND expires_at >= p_now THEN
        RETURN NEXT;
        RETURN;
    END IF;
    -- Expired or finished leases of this agent let go (one lease per agent).
    UPDATE cases SET leased_to = NULL, lease_expires_at = NULL WHERE leased_to = p_agent;
    -- Expired leases of others return to the queue (and so to its indexes).
    IF p_sweep THEN
        UPDATE cases SET leased_to = NULL, lease_expires_at = NULL
         WHERE id IN (SELECT x.id FROM cases x
                       WHERE x.leased_to IS NOT NULL AND x.lease_expires_at < p_now
                       FOR UPDATE SKIP LOCKED)
           AND lease_expires_at < p_now;
    END IF;
    -- Kinds first, then campaigns in their order.
    FOR k IN 0..3 LOOP
        FOR i IN 1..COALESCE(array_length(campaigns, 1), 0) LOOP
            found_id := NULL;
            IF k = 0 THEN
                SELECT c.id INTO found_id FROM cases c JOIN customers u ON u.id = c.customer_id
                 WHERE c.campaign_id = campaigns[i] AND c.final_disposition IS NULL
                   AND c.leased_to IS NULL
                   AND u.restricted = FALSE
                   AND (u.state_code IS NULL OR u.state_code = '' OR holidays NOT LIKE ('%,' || u.state_code || ',%'))
                   AND c.callback_at IS NOT NULL AND c.callback_user_id = p_agent AND c.due_at <= p_now
                 ORDER BY c.due_at LIMIT 1 FOR UPDATE OF c SKIP LOCKED;
            ELSIF k = 1 THEN
                SELECT c.id INTO found_id FROM cases c JOIN customers u ON u.id = c.customer_id
                 WHERE c.campaign_id = campaigns[i] AND c.final_disposition IS NULL
                   AND c.leased_to IS NULL
                   AND u.restricted = FALSE
                   AND (u.state_code IS NULL OR u.state_code = '' OR holidays NOT LIKE ('%,' || u.state_code || ',%'))
                   AND c.callback_at IS NOT NULL AND c.due_at <= p_now
                   AND (c.callback_user_id IS NULL OR c.callback_at + 900 < p_now)
                 ORDER BY c.due_at LIMIT 1 FOR UPDATE OF c SKIP LOCKED;
            ELSIF k = 2 THEN
                SELECT c.id INTO found_id FROM cases c JOIN customers u ON u.id = c.customer_id
                 WHERE c.campaign_id = campaigns[i] AND c.final_disposition IS NULL
                   AND c.leased_to IS NULL
                   AND u.restricted = FALSE
                   AND (u.state_code IS NULL OR u.state_code = '' OR holidays NOT LIKE ('%,' || u.state_code || ',%'))
                   AND c.attempts_count = 0 AND c.callback_at IS NULL
                   AND c.letter_sent_on IS NOT NULL AND c.letter_sent_on <= cutoffs[i]
                 ORDER BY c.queue_group, c.queue_contact LIMIT 1 FOR UPDATE OF c SKIP LOCKED;
            ELSE
                SELECT c.id INTO found_id FROM cases c JOIN customers u ON u.id = c.customer_id
                 WHERE c.campaign_id = campaigns[i] AND c.final_disposition IS NULL
                   AND c.leased_to IS NULL
                   AND u.restricted = FALSE
                   AND (u.state_code IS NULL OR u.state_code = '' OR holidays NOT LIKE ('%,' || u.state_code || ',%'))
                   AND c.attempts_count > 0 AND c.callback_at IS NULL AND c.due_at <= p_now
                 ORDER BY c.due_at LIMIT 1 FOR UPDATE OF c SKIP LOCKED;
            END IF;
            IF found_id IS NOT NULL THEN
                UPDATE cases SET leased_to = p_agent, lease_expires_at = p_now + p_lease_seconds, leased_at = p_now
                 WHERE id = found_id AND final_disposition IS NULL
                   AND (leased_to IS NULL OR lease_expires_at < p_now);
                IF FOUND THEN
                    kind := k;
                    case_id := found_id;
                    campaign_id := campaigns[i];
                    expires_at := p_now + p_lease_seconds;
                    RETURN NEXT;
                END IF;
                RETURN;
            END IF;
        END LOOP;
    END LOOP;
END $$;
