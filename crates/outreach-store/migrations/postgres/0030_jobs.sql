-- Long jobs in the database (issue 24): web imports and print archives are
-- rows that any server runs and any server answers for. A job is received
-- (its upload arriving), queued, running (leased by one server, which
-- renews `heartbeat_at`), then done or failed. A running job whose
-- heartbeat lapsed is taken over by another server. Times are the
-- database's clock (UTC seconds), never a server's application clock.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('import', 'print')),
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    -- Who started it, for the audit events it writes and the Art. 15
    -- disclosure ("by whom").
    user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    client TEXT NOT NULL,
    file_name TEXT NOT NULL,
    -- The kind's parameters (JSON): an import's dry run; a print job's batch.
    params TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('receiving', 'queued', 'running', 'done', 'failed')),
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    heartbeat_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    -- The last download of the result (a print archive).
    fetched_at BIGINT,
    -- Why it failed, in German, for the page.
    message TEXT NOT NULL DEFAULT '',
    -- The result's summary (JSON): an import's report.
    result TEXT,
    input_size BIGINT NOT NULL DEFAULT 0,
    output_size BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_runnable ON jobs(state, created_at);
CREATE INDEX jobs_batch ON jobs(job_center_id, kind, created_at);

-- A job's contents in chunks of at most 1 MB, so that no single write holds
-- SQLite's writer for long: the upload, the archive, the import's issues.
CREATE TABLE job_chunks (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    part TEXT NOT NULL CHECK (part IN ('upload', 'archive', 'issues')),
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (job_id, part, seq)
);

-- The import a job stored, in the import's own transaction: a job taken
-- over after its server died is applied once.
ALTER TABLE imports ADD COLUMN job_id TEXT;
CREATE UNIQUE INDEX imports_job ON imports(job_id) WHERE job_id IS NOT NULL;
