-- A case manager's own appointment slots: an invitation can take a free one.
CREATE TABLE appointment_slots (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    -- ISO date and HH:MM.
    slot_on TEXT NOT NULL,
    slot_time TEXT NOT NULL,
    place TEXT NOT NULL,
    room TEXT NOT NULL,
    invitation_id BIGINT REFERENCES invitations(id),
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, slot_on, slot_time)
);
