-- PostgreSQL takes "next case" in one round trip through a function (see
-- migrations/postgres/0016). SQLite runs in the server's process, where a
-- statement costs no round trip: nothing changes here.
SELECT 1;
