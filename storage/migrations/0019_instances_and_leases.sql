-- Version 19: several instances on one database, and what only one of them may do.
-- instances: each running bot, by its id (host/pid/random); its heartbeat is renewed every
--   few seconds, so one whose heartbeat is stale has died. Removed when it stops cleanly.
-- leases: what only one instance may do at a time (Telegram long polling, the reports, the
--   rota gap forecast), held by an instance until expires_at and renewed before then; a
--   holder that dies lets it expire and another takes it over. holder NULL: let go cleanly.
-- outbox.claimed_by: the instance delivering a 'sending' row. Recovery returns a row to
--   pending only when that instance is dead or its claim's lease (claimed_at) has run out,
--   never while a live instance is sending it.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT,
    taken_at   TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
-- The metrics count live climbs on every scrape (storage/metrics_store.py).
CREATE INDEX escalations_state ON escalations(state);
