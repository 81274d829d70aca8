-- Lockout that holds under parallel requests (issue 21): each password
-- check against an account's real hash first takes one of at most five
-- places in a window of 15 minutes, in one statement, so that requests
-- sent at once can't all pass a lock read before their checks.
ALTER TABLE users ADD COLUMN login_checks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN login_window_ends BIGINT;
