-- Invitations to a personal appointment (§ 59 SGB II, § 309 SGB III),
-- issued by the job center for a final case. What the letter said is kept
-- as entered, with the version of the legal-consequences notice it used
-- and the content hash of the letter.
CREATE TABLE invitations (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT REFERENCES cases(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    job_center_id BIGINT NOT NULL REFERENCES job_centers(id),
    purpose TEXT NOT NULL,
    -- ISO date and HH:MM of the appointment.
    appointment_on TEXT NOT NULL,
    appointment_time TEXT NOT NULL,
    place TEXT NOT NULL,
    room TEXT NOT NULL,
    contact TEXT NOT NULL,
    contact_phone TEXT NOT NULL DEFAULT '',
    -- One document per line.
    documents TEXT NOT NULL DEFAULT '',
    -- ISO date of the letter.
    letter_date TEXT NOT NULL,
    legal_notice_version TEXT NOT NULL,
    template_version TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX invitations_day ON invitations(job_center_id, letter_date);
CREATE INDEX invitations_case ON invitations(case_id);
