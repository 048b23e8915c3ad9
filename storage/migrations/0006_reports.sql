-- Version 6: the managers' view. Scheduled reports run once per local day (the run key),
-- whatever restarts or clock changes happen; managers subscribe to them; a message may carry
-- a file (the weekly pack, a chart), kept here so a retry sends the same bytes.
CREATE TABLE scheduled_runs (
    job      TEXT NOT NULL,          -- 'daily:<area>', 'weekly:<area>'
    run_key  TEXT NOT NULL,          -- the local date it is for
    ran_at   TEXT NOT NULL,
    PRIMARY KEY (job, run_key)
);
CREATE TABLE subscriptions (
    staff_id TEXT NOT NULL REFERENCES staff(id),
    kind     TEXT NOT NULL,          -- 'daily' | 'weekly'
    PRIMARY KEY (staff_id, kind)
);
CREATE TABLE attachments (
    id         INTEGER PRIMARY KEY,
    filename   TEXT NOT NULL,
    mime       TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at TEXT NOT NULL
);
ALTER TABLE outbox ADD COLUMN attachment_id INTEGER REFERENCES attachments(id);
