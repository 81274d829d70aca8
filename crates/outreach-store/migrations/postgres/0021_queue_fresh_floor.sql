-- Fresh cases from where this server left off (issue 6). A leased case
-- leaves the fresh queue's index, but on PostgreSQL its old entry stays in
-- the index until the table is vacuumed: every "next case" walked all the
-- entries of the cases leased before it (56 index pages 20 seconds into the
-- benchmark, and growing for as long as autovacuum leaves `cases` alone, up
-- to a fifth of the table), and every case whose advance letter is too
-- recent. Now each server passes, per campaign, the queue position of the
-- last fresh case it leased (`p_floor_*`), and the search starts after it.
-- A case that comes free before that position (an expired lease handed
-- back, a supervisor's release) is found when the server starts from the
-- front again: with every hand-back of expired leases (at most every 5
-- seconds), and whenever nothing is found after the position.
DROP INDEX cases_fresh;
CREATE INDEX cases_fresh ON cases(campaign_id, queue_group, queue_contact, id)
    WHERE final_disposition IS NULL AND attempts_count = 0 AND leased_to IS NULL;

DROP FUNCTION queue_lease(BIGINT, BIGINT, TEXT, TEXT, TEXT, BIGINT, BOOLEAN);
CREATE FUNCTION queue_lease(
    p_agent BIGINT, p_now BIGINT, p_holidays TEXT, p_campaigns TEXT, p_cutoffs TEXT,
    p_lease_seconds BIGINT, p_sweep BOOLEAN,
    p_floor_groups TEXT, p_floor_contacts TEXT[], p_floor_ids TEXT
) RETURNS TABLE (kind INTEGER, case_id BIGINT, campaign_id BIGINT, expires_at BIGINT,
                 fresh_group BIGINT, fresh_contact TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    k INTEGER;
    i INTEGER;
    found_id BIGINT;
    found_group BIGINT;
    found_contact TEXT;
    floor_groups BIGINT[] := string_to_array(p_floor_groups, ',')::BIGINT[];
    floor_ids BIGINT[] := string_to_array(p_floor_ids, ',')::BIGINT[];
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
                -- After the floor; from the front when nothing is there.
                FOR try_no IN 0..1 LOOP
                    SELECT c.id, c.queue_group, c.queue_contact INTO found_id, found_group, found_contact
                      FROM cases c JOIN customers u ON u.id = c.customer_id
                     WHERE c.campaign_id = campaigns[i] AND c.final_disposition IS NULL
                       AND c.leased_to IS NULL
                       AND u.restricted = FALSE
                       AND (u.state_code IS NULL OR u.state_code = '' OR holidays NOT LIKE ('%,' || u.state_code || ',%'))
                       AND c.attempts_count = 0 AND c.callback_at IS NULL
                       AND c.letter_sent_on IS NOT NULL AND c.letter_sent_on <= cutoffs[i]
                       AND (c.queue_group, c.queue_contact, c.id) > (
                           CASE WHEN try_no = 0 THEN COALESCE(floor_groups[i], -1) ELSE -1 END,
                           CASE WHEN try_no = 0 THEN COALESCE(p_floor_contacts[i], '') ELSE '' END,
                           CASE WHEN try_no = 0 THEN COALESCE(floor_ids[i], 0) ELSE 0 END)
                     ORDER BY c.queue_group, c.queue_contact, c.id LIMIT 1 FOR UPDATE OF c SKIP LOCKED;
                    EXIT WHEN found_id IS NOT NULL OR COALESCE(floor_ids[i], 0) = 0;
                END LOOP;
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
                    IF k = 2 THEN
                        fresh_group := found_group;
                        fresh_contact := found_contact;
                    END IF;
                    RETURN NEXT;
                END IF;
                RETURN;
            END IF;
        END LOOP;
    END LOOP;
END $$;
