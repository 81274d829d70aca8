-- Fresh cases from where the server left off (issue 6): PostgreSQL only,
-- where the entries of leased cases stay in the fresh queue's index until
-- the table is vacuumed (see the PostgreSQL migration of the same name).
-- SQLite removes them at once; nothing changes here.
SELECT 1;
