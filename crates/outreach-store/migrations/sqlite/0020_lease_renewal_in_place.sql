-- A renewed lease without index writes (issue 6; see the PostgreSQL
-- migration of the same name). Expired leases are handed back to the queue
-- at most every few seconds per server, found through `cases_one_lease`;
-- the expiry is no longer indexed, so a renewal writes the row alone.
DROP INDEX cases_lease_expiry;
