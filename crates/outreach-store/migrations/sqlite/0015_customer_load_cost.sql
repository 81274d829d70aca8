-- PostgreSQL compares customer numbers bytewise and replaces the row-by-row
-- foreign key customers.restricted_by with triggers (see
-- migrations/postgres/0015). SQLite already compares text bytewise and skips
-- its foreign-key check for a NULL value, so nothing changes here.
SELECT 1;
