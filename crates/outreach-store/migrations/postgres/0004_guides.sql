-- Conversation guides: every version stored with its text and content hash.
-- A campaign pins one version; editing makes a new version; results name
-- the version they were taken with.
CREATE TABLE guides (
    id BIGSERIAL PRIMARY KEY,
    -- NULL: the built-in guide every job center may use.
    job_center_id BIGINT REFERENCES job_centers(id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX guides_version ON guides(COALESCE(job_center_id, 0), name, version);

ALTER TABLE campaigns ADD COLUMN guide_id BIGINT REFERENCES guides(id);
