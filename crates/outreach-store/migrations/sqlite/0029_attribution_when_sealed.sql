-- PostgreSQL attributes an audit event when it seals it into the chain. On
-- SQLite each event is chained as it is appended, and its trigger attributes
-- it in the same statement: nothing changes here.
SELECT 1;
