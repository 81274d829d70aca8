-- Access tokens for a job center's own systems (the JSON API): shown once
-- when created, stored only as their SHA-256, revocable.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_job_center ON api_tokens(job_center_id);
