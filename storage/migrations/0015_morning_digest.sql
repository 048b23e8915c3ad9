-- Version 15: what an office-hours person is told at the start of their next office hours
-- (the morning digest): a return while they were off, an urgent duty the out-of-hours team
-- had, handled or not. Kept here, not in memory, so a restart overnight loses none of it;
-- sent as one message per person and opening through the outbox, then marked sent.
CREATE TABLE digest_items (
    id INTEGER PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    send_at TEXT NOT NULL,          -- the start of the person's next office hours (UTC)
    topic TEXT NOT NULL,            -- once per person and opening: 'duty:12', 'return:7'
    child_id INTEGER REFERENCES children(id),
    episode_id INTEGER REFERENCES episodes(id),
    duty_id INTEGER REFERENCES duties(id),
    rule_id TEXT,
    text TEXT NOT NULL,             -- what happened, as it was when it happened
    created_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (staff_id, send_at, topic)
);
CREATE INDEX digest_due ON digest_items(send_at) WHERE sent_at IS NULL;
