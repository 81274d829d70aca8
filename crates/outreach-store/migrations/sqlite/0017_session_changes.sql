-- PostgreSQL announces changes to sessions and users so that each server
-- can keep the sessions it read (see migrations/postgres/0017). With SQLite
-- there is one server, whose session lookup costs no round trip: nothing is
-- kept, nothing changes here.
SELECT 1;
