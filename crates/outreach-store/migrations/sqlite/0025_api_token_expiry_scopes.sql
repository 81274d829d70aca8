-- API tokens expire (12 months after they were made or renewed) and carry
-- what they may do (issue 21): `import` (customer exports in), `results`
-- (results out); a read-only statistics scope can join the list later.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'import results';
UPDATE api_tokens SET expires_at = created_at + 365 * 86400;
-- Accounts whose password the system administration reset must choose a
-- new one at their next login; the reset shows on the job center DPO's
-- start page for DPO and case manager accounts.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN password_reset_at BIGINT;
ALTER TABLE users ADD COLUMN password_reset_by TEXT;
