-- Results to the case manager (issue 7).

-- When a case became final: the inbox and the export sort and filter by it.
ALTER TABLE cases ADD COLUMN closed_at BIGINT;
UPDATE cases SET closed_at = COALESCE(
        (SELECT r.created_at FROM results r WHERE r.case_id = cases.id),
        (SELECT MAX(a.ended_at) FROM attempts a WHERE a.case_id = cases.id),
        created_at)
    WHERE final_disposition IS NOT NULL;
CREATE INDEX cases_closed ON cases(campaign_id, closed_at) WHERE closed_at IS NOT NULL;

-- The result's flags as codes between spaces (" moved wants_appointment "),
-- so that the inbox can filter by flag on both databases.
ALTER TABLE results ADD COLUMN flag_codes TEXT NOT NULL DEFAULT ' ';
UPDATE results SET flag_codes = ' '
    || CASE WHEN flags LIKE '%"no_longer_unemployed":{%' THEN 'no_longer_unemployed ' ELSE '' END
    || CASE WHEN flags LIKE '%"moved":{%' THEN 'moved ' ELSE '' END
    || CASE WHEN flags LIKE '%"health_restriction":"yes"%' THEN 'restriction ' ELSE '' END
    || CASE WHEN flags LIKE '%"wants_appointment":true%' THEN 'wants_appointment ' ELSE '' END;

-- The case manager's side of a final case: read, acknowledged, reassigned
-- to another pAp by the administration, handed over to the job center's
-- own system by an export.
CREATE TABLE case_reviews (
    case_id BIGINT PRIMARY KEY REFERENCES cases(id),
    -- Another pAp-Kennung than the customer's (NULL: the customer's own).
    pap_code TEXT,
    read_at BIGINT,
    acknowledged_at BIGINT,
    acknowledged_by BIGINT REFERENCES users(id),
    handed_over_at BIGINT
);
CREATE INDEX case_reviews_pap ON case_reviews(pap_code) WHERE pap_code IS NOT NULL;

-- A value the customer disputes (§ 84 SGB X): kept with this flag, never
-- overwritten.
CREATE TABLE result_disputes (
    case_id BIGINT NOT NULL REFERENCES cases(id),
    field TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    marked_by BIGINT REFERENCES users(id),
    marked_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, field)
);
