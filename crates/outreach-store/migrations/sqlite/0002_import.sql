-- Customer imports: one row per import run, and the fields each run changed.

CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    file_name TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    rows_read BIGINT NOT NULL DEFAULT 0,
    accepted BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    missing BIGINT NOT NULL DEFAULT 0,
    warnings BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE customer_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    import_id BIGINT NOT NULL REFERENCES imports(id),
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX customer_changes_customer ON customer_changes(customer_id);
CREATE INDEX customer_changes_import ON customer_changes(import_id);
