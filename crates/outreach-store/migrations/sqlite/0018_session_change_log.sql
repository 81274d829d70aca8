-- What PostgreSQL announces through NOTIFY (migrations/postgres/0017),
-- SQLite writes down: a change to a session (ended, or its token changed)
-- or to a user (deactivated, locked, role, password, deleted). `outreach
-- serve` reads the new entries every few tenths of a second and forgets the
-- sessions it kept that they name, so that a change made by another process
-- (the command line) counts as soon as in the server that made it. Only the
-- session's last-seen time changes without an entry.
CREATE TABLE session_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    what TEXT NOT NULL
);

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
BEGIN
    INSERT INTO session_changes (what) VALUES ('s:' || OLD.id_hash);
END;
CREATE TRIGGER sessions_changed AFTER UPDATE OF id_hash, user_id, csrf_token ON sessions
BEGIN
    INSERT INTO session_changes (what) VALUES ('s:' || OLD.id_hash);
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN
    INSERT INTO session_changes (what) VALUES ('u:' || OLD.id);
END;
CREATE TRIGGER users_changed AFTER UPDATE ON users
BEGIN
    INSERT INTO session_changes (what) VALUES ('u:' || OLD.id);
END;
