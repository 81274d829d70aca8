-- Outreach schema, PostgreSQL. Instants are UTC unix seconds (BIGINT); calendar
-- dates are ISO text (YYYY-MM-DD). The SQLite migration of the same name must
-- describe the same tables.

CREATE TABLE job_centers (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    street TEXT NOT NULL DEFAULT '',
    postcode TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    state_code TEXT NOT NULL DEFAULT '',
    dpo_contact TEXT NOT NULL DEFAULT '',
    supervisory_authority TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE service_centers (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    city TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent','supervisor','case_manager','jobcenter_admin','dpo','admin')),
    job_center_id BIGINT REFERENCES job_centers(id),
    service_center_id BIGINT REFERENCES service_centers(id),
    pap_code TEXT,
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    password_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (job_center_id IS NULL OR service_center_id IS NULL)
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    client TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE mandates (
    id BIGSERIAL PRIMARY KEY,
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    service_center_id BIGINT NOT NULL REFERENCES service_centers(id),
    title TEXT NOT NULL,
    allowed_fields TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    deletion_deadline TEXT NOT NULL,
    authority_notified_on TEXT,
    window_days TEXT NOT NULL DEFAULT 'Mo,Di,Mi,Do,Fr',
    window_start TEXT NOT NULL DEFAULT '08:00',
    window_end TEXT NOT NULL DEFAULT '20:00',
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft','active','ended')),
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX mandates_service_center ON mandates(service_center_id, state);
CREATE INDEX mandates_job_center ON mandates(job_center_id);

CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    customer_number TEXT NOT NULL,
    bg_number TEXT,
    salutation TEXT,
    first_name TEXT,
    last_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    street TEXT,
    house_number TEXT,
    postcode TEXT,
    city TEXT,
    phone TEXT,
    mobile TEXT,
    email TEXT,
    status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unemployed','job_seeking','not_job_seeking','unknown')),
    unemployed_since TEXT,
    target_occupation TEXT,
    pap_code TEXT,
    last_contact TEXT,
    state_code TEXT,
    restricted BOOLEAN NOT NULL DEFAULT FALSE,
    in_latest_export BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (job_center_id, customer_number)
);
CREATE INDEX customers_pap ON customers(job_center_id, pap_code);

CREATE TABLE campaigns (
    id BIGSERIAL PRIMARY KEY,
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    mandate_id BIGINT NOT NULL REFERENCES mandates(id),
    name TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft','active','paused','closed')),
    selection TEXT NOT NULL DEFAULT '{}',
    guide_ref TEXT NOT NULL DEFAULT '',
    window_days TEXT NOT NULL DEFAULT 'Mo,Di,Mi,Do,Fr',
    window_start TEXT NOT NULL DEFAULT '08:00',
    window_end TEXT NOT NULL DEFAULT '20:00',
    attempts_per_day BIGINT NOT NULL DEFAULT 1,
    attempts_total BIGINT NOT NULL DEFAULT 6,
    lead_days BIGINT NOT NULL DEFAULT 7,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    state TEXT NOT NULL DEFAULT 'waiting_letter',
    verification_code_hash TEXT,
    letter_sent_on TEXT,
    objection_on TEXT,
    due_at BIGINT,
    leased_to BIGINT REFERENCES users(id),
    lease_expires_at BIGINT,
    callback_at BIGINT,
    callback_user_id BIGINT REFERENCES users(id),
    attempts_count BIGINT NOT NULL DEFAULT 0,
    final_disposition TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (campaign_id, customer_id)
);
CREATE INDEX cases_due ON cases(state, due_at);

CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    user_id BIGINT REFERENCES users(id),
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    result TEXT,
    phone_used TEXT,
    note TEXT
);
CREATE INDEX attempts_case ON attempts(case_id);

CREATE TABLE results (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL UNIQUE REFERENCES cases(id),
    outcome TEXT NOT NULL,
    guide_version TEXT NOT NULL,
    identity_method TEXT,
    identity_passed BOOLEAN,
    consent_given BOOLEAN NOT NULL DEFAULT FALSE,
    answers TEXT NOT NULL DEFAULT '{}',
    changes TEXT NOT NULL DEFAULT '[]',
    flags TEXT NOT NULL DEFAULT '',
    note TEXT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by BIGINT REFERENCES users(id),
    handed_over_at BIGINT
);

CREATE TABLE letters (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    case_id BIGINT REFERENCES cases(id),
    kind TEXT NOT NULL CHECK (kind IN ('advance','invitation')),
    template_version TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    batch TEXT,
    generated_at BIGINT NOT NULL,
    sent_on TEXT
);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    user_id BIGINT,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    client TEXT NOT NULL,
    job_center_id BIGINT,
    service_center_id BIGINT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_user ON audit_events(username);

-- The head of the hash chain: one row, locked by each appending transaction so
-- that events are chained in commit order.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
