-- PostgreSQL appends audit events unsealed and seals them into the chain
-- afterwards (see migrations/postgres/0014). SQLite has one writer, which
-- chains each event as it appends it; nothing changes here.
SELECT 1;
