-- SQLite writes down the changes to sessions and users that PostgreSQL
-- announces (migrations/sqlite/0018); nothing changes here.
SELECT 1;
