-- An audit event appended on PostgreSQL is attributed when it is sealed into
-- the chain (`audit::seal`), in the sealing transaction and in one statement
-- for the whole batch, no longer by a trigger in the transaction of the
-- request that appended it: the trigger made the customer page 14 % slower
-- at p95 (issue 23). Every reader of the attribution seals first, and so
-- does the deletion run before it deletes cases, so what a reader sees is
-- attributed as before. The trigger stays for an event inserted with its
-- place in the chain already given.
DROP TRIGGER audit_events_attribute ON audit_events;
CREATE TRIGGER audit_events_attribute AFTER INSERT ON audit_events
    FOR EACH ROW WHEN (NEW.seq IS NOT NULL) EXECUTE FUNCTION audit_events_attribute();
