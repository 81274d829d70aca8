-- Each `outreach serve` keeps the sessions it has read for a few seconds
-- (issue 6: the session lookup was six of a call cycle's 27 statements). It
-- forgets one as soon as PostgreSQL tells of a change: a session ended or
-- changed, or its user changed (deactivated, locked, role, password) or was
-- deleted. Only the session's last-seen time changes without a word.
CREATE FUNCTION sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify('outreach_sessions', 's:' || OLD.id_hash);
    ELSE
        PERFORM pg_notify('outreach_sessions', 'u:' || OLD.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_changed AFTER DELETE OR UPDATE OF id_hash, user_id, csrf_token ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_changed();
CREATE TRIGGER users_changed AFTER DELETE OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION sessions_changed();
