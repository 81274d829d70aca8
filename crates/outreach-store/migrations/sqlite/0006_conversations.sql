-- A conversation in progress (or dropped, as a draft for the callback): the
-- guide version and the engine's state, kept on the server so that a reload
-- or a second tab continues where the call was.
CREATE TABLE conversations (
    case_id BIGINT PRIMARY KEY REFERENCES cases(id),
    agent_id BIGINT REFERENCES users(id),
    guide_id BIGINT REFERENCES guides(id),
    state TEXT NOT NULL,
    -- A dropped call's answers, kept for the callback (JSON; '' when none).
    draft TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- When the running lease began (for the supervisor: leases open too long).
ALTER TABLE cases ADD COLUMN leased_at BIGINT;
