-- Version 2: rotas and escalation ladders. Timers are rows with a due time; the database is the truth.

CREATE TABLE rota (
    id          INTEGER PRIMARY KEY,
    role        TEXT NOT NULL,
    staff_id    TEXT NOT NULL REFERENCES staff(id),
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL
);
CREATE INDEX rota_role_time ON rota(role, starts_at, ends_at);

-- One climb of a ladder on one episode. steps_json is a copy taken when the climb started,
-- so editing a preset or a trigger plan later never changes a climb already running.
CREATE TABLE escalations (
    id          INTEGER PRIMARY KEY,
    episode_id  INTEGER NOT NULL REFERENCES episodes(id),
    child_id    INTEGER NOT NULL REFERENCES children(id),
    ladder      TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    needs_ack   INTEGER NOT NULL DEFAULT 1,
    context_json TEXT NOT NULL DEFAULT '{}',   -- what the trigger said, for the messages
    steps_json  TEXT NOT NULL,
    step        INTEGER NOT NULL DEFAULT 0,   -- the step to send at next_at
    repeat      INTEGER NOT NULL DEFAULT 0,   -- which repeat of that step
    state       TEXT NOT NULL,                -- active | acked | confirming | stopped | done
    next_at     TEXT,                         -- when the sweeper acts next; NULL once finished
    started_at  TEXT NOT NULL,
    acked_by    TEXT REFERENCES staff(id),
    acked_at    TEXT,
    version     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX escalations_due ON escalations(next_at) WHERE next_at IS NOT NULL;
CREATE INDEX escalations_episode ON escalations(episode_id, state);
CREATE UNIQUE INDEX escalations_one_live
    ON escalations(episode_id, ladder) WHERE state IN ('active', 'acked', 'confirming');
