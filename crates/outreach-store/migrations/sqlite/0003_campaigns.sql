-- Campaigns, their cases, advance letters in print batches, objections.

-- The secret the one-time verification codes of a campaign's letters are
-- derived from (set when the campaign is activated).
ALTER TABLE campaigns ADD COLUMN code_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN activated_at BIGINT;

ALTER TABLE cases ADD COLUMN objection_recorded_by BIGINT REFERENCES users(id);
-- A pAp may consider a personal invitation (after an objection, a refusal, no
-- contact); never an automatic invitation.
ALTER TABLE cases ADD COLUMN invitation_candidate BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX cases_campaign ON cases(campaign_id);
CREATE INDEX cases_customer ON cases(customer_id);

CREATE TABLE letter_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    kind TEXT NOT NULL CHECK (kind IN ('advance','invitation')),
    -- The date printed on every letter of the batch (ISO).
    letter_date TEXT NOT NULL,
    letter_count BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    -- The dispatch date (ISO); the lead time starts from it.
    sent_on TEXT,
    sent_by BIGINT REFERENCES users(id)
);
CREATE INDEX letter_batches_campaign ON letter_batches(campaign_id);

ALTER TABLE letters ADD COLUMN batch_id BIGINT REFERENCES letter_batches(id);
-- The letter's place in its batch, from 0; file and page follow from it.
ALTER TABLE letters ADD COLUMN position BIGINT;
CREATE INDEX letters_batch ON letters(batch_id, position);
CREATE INDEX letters_case ON letters(case_id);
