-- Sign-in through the organisation's directory (issue 25). An account is
-- local (its own Argon2id password) or comes from a directory: created at
-- its first sign-in, with no password of its own, its role and organisation
-- re-read from its groups at every sign-in and by the periodic sync.
-- `external_id` is the directory's name for the person (the normalised DN
-- for LDAP; for OpenID Connect, later, the issuer and subject), so that a
-- renamed login still finds its account.
ALTER TABLE users ADD COLUMN identity_source TEXT NOT NULL DEFAULT 'local'
    CHECK (identity_source IN ('local', 'ldap', 'oidc'));
ALTER TABLE users ADD COLUMN external_id TEXT;
-- Deactivated by the sync (left the directory or every mapped group), not
-- by the system administration: a later sign-in with a mapped group
-- activates the account again; an administrator's deactivation stays.
ALTER TABLE users ADD COLUMN deactivated_by_sync BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX users_external_id ON users (identity_source, external_id)
    WHERE external_id IS NOT NULL;

-- The periodic sync, run by one server at a time: the server that moves
-- `next_run_at` forward runs it; the last report is kept for the
-- administration.
CREATE TABLE directory_sync (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_run_at BIGINT NOT NULL,
    last_run_at BIGINT,
    last_report TEXT NOT NULL DEFAULT ''
);
INSERT INTO directory_sync (id, next_run_at) VALUES (1, 0);
