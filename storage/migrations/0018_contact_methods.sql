-- Version 18: reaching people beyond chat, through GOV.UK Notify (SMS and e-mail).
-- A person's own numbers and addresses, verified by a code sent to them and typed back in
-- chat; one team-file number or address (staff.phone, staff.email) counts as verified.
CREATE TABLE contact_methods (
    staff_id     TEXT NOT NULL REFERENCES staff(id),
    method       TEXT NOT NULL,              -- sms | email
    address      TEXT NOT NULL,              -- +447700900123, or a lower-case address
    verified_at  TEXT NOT NULL,
    PRIMARY KEY (staff_id, method)
);
-- A number or address added and not yet verified: the code's sha256 only, a few tries.
CREATE TABLE contact_pending (
    staff_id     TEXT NOT NULL REFERENCES staff(id),
    method       TEXT NOT NULL,
    address      TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (staff_id, method)
);
-- Personal notification rules: a role's defaults (set by a manager) and a person's own.
-- chain: JSON [[method, seconds after the alert], ...] in order.
CREATE TABLE notification_rules (
    scope        TEXT NOT NULL,              -- 'staff:<id>' | 'role:<role>'
    urgency      TEXT NOT NULL,              -- urgent | routine
    chain        TEXT NOT NULL,
    set_by       TEXT NOT NULL,
    set_at       TEXT NOT NULL,
    PRIMARY KEY (scope, urgency)
);
-- The later methods of an alert to a person: due after their delay unless it is taken first.
CREATE TABLE alert_followups (
    id            INTEGER PRIMARY KEY,
    idem_key      TEXT NOT NULL UNIQUE,      -- the follow-up message's outbox key
    escalation_id INTEGER NOT NULL REFERENCES escalations(id),
    cycle         INTEGER NOT NULL,
    alert_key     TEXT NOT NULL,             -- the chat alert's outbox key (the climb send)
    staff_id      TEXT NOT NULL REFERENCES staff(id),
    method        TEXT NOT NULL,             -- sms | email
    urgent        INTEGER NOT NULL,
    due_at        TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'waiting',   -- waiting | queued | dropped
    created_at    TEXT NOT NULL
);
CREATE INDEX alert_followups_due ON alert_followups(due_at) WHERE state = 'waiting';
-- A code per alert and person, to take it by replying "ACK <code>" to the text.
CREATE TABLE ack_codes (
    staff_id      TEXT NOT NULL REFERENCES staff(id),
    escalation_id INTEGER NOT NULL REFERENCES escalations(id),
    cycle         INTEGER NOT NULL,
    code          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    used_at       TEXT,
    PRIMARY KEY (staff_id, escalation_id, cycle)
);
CREATE INDEX ack_codes_code ON ack_codes(staff_id, code);
-- Texts received through Notify, each processed once (in the transaction of what it did).
CREATE TABLE received_texts (
    id            TEXT PRIMARY KEY,          -- Notify's id
    received_at   TEXT NOT NULL,
    processed_at  TEXT NOT NULL,
    outcome       TEXT NOT NULL
);
