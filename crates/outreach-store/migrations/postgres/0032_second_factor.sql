-- The second factor of local accounts (issue 25): a TOTP secret (Base32)
-- confirmed by a first code, the last step accepted (a code counts once),
-- and one-time recovery codes stored as SHA-256 hashes.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enrolled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    UNIQUE (user_id, code_hash)
);

-- Between the password and the code: the password was right, the code is
-- due (purpose 'code'), or the account enrols first (purpose 'enrol', with
-- the secret offered). The browser holds the token, the database its hash,
-- so any server continues the sign-in; it expires after a few minutes.
CREATE TABLE login_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('code', 'enrol')),
    secret TEXT,
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_challenges_expiry ON login_challenges (expires_at);
