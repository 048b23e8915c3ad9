-- Whereabouts schema, version 1, for PostgreSQL: storage/migrations/0001_initial.sql with the
-- append-only triggers written as PostgreSQL writes them.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SSZ' so they sort and compare as text on any engine.

CREATE TABLE staff (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    home        TEXT,
    team        TEXT,
    manager_id  TEXT REFERENCES staff(id),
    active      INTEGER NOT NULL DEFAULT 1
);

-- One row per chat identity, so a person can be on Telegram and Slack at once.
CREATE TABLE staff_identities (
    transport   TEXT NOT NULL,
    external_id TEXT NOT NULL,
    staff_id    TEXT NOT NULL REFERENCES staff(id),
    PRIMARY KEY (transport, external_id)
);

CREATE TABLE children (
    id                  INTEGER PRIMARY KEY,
    ref                 TEXT NOT NULL UNIQUE,
    first_name          TEXT NOT NULL,
    full_name           TEXT,
    dob                 TEXT,
    home                TEXT,
    area                TEXT NOT NULL,
    legal_status        TEXT NOT NULL,
    home_authority      TEXT,
    social_worker_id    TEXT REFERENCES staff(id),
    team_manager_id     TEXT REFERENCES staff(id),
    iro_id              TEXT REFERENCES staff(id),
    profile_json        TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE episodes (
    id                  INTEGER PRIMARY KEY,
    child_id            INTEGER NOT NULL REFERENCES children(id),
    area                TEXT NOT NULL,
    state               TEXT NOT NULL,          -- open | found | finalised
    category            TEXT NOT NULL,          -- absent | away | missing
    concern             TEXT NOT NULL,          -- none | carer | police
    ever_missing        INTEGER NOT NULL DEFAULT 0,
    last_seen_at        TEXT NOT NULL,
    last_seen_place     TEXT NOT NULL,
    reported_by         TEXT NOT NULL REFERENCES staff(id),
    reported_at         TEXT NOT NULL,
    police_ref          TEXT,
    police_grade        TEXT,
    police_reported_at  TEXT,
    found_at            TEXT,
    end_reason          TEXT,
    found_where         TEXT,
    rhi_status          TEXT,                   -- offered | held | declined
    rhi_by              TEXT,
    finalised_at        TEXT,
    finalised_by        TEXT REFERENCES staff(id),
    link_group          INTEGER,                -- siblings reported together share it (RET-SIBLINGS)
    version             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX episodes_child ON episodes(child_id, state);
-- RET-ONEOPEN: the database itself refuses a second open episode for a child.
CREATE UNIQUE INDEX episodes_one_open ON episodes(child_id) WHERE state = 'open';

-- The append-only timeline (ABS-LOG). Triggers below refuse edits and deletions.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    episode_id  INTEGER REFERENCES episodes(id),
    child_id    INTEGER REFERENCES children(id),
    at          TEXT NOT NULL,      -- when it happened, as the reporter said
    recorded_at TEXT NOT NULL,      -- when the bot wrote it
    actor_id    TEXT REFERENCES staff(id),
    kind        TEXT NOT NULL,
    rule_id     TEXT,
    text        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_episode ON events(episode_id, id);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS
'BEGIN RAISE EXCEPTION ''events are append-only''; END';
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE duties (
    id          INTEGER PRIMARY KEY,
    episode_id  INTEGER REFERENCES episodes(id),
    child_id    INTEGER NOT NULL REFERENCES children(id),
    rule_id     TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    owner_id    TEXT REFERENCES staff(id),
    state       TEXT NOT NULL DEFAULT 'open',   -- open | done | not_applicable
    created_at  TEXT NOT NULL,
    closed_by   TEXT REFERENCES staff(id),
    closed_at   TEXT,
    note        TEXT
);
CREATE INDEX duties_open_due ON duties(state, due_at);
CREATE INDEX duties_episode ON duties(episode_id);

-- Messages to send. The idempotency key makes a retried write or a re-sent row the same message.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idem_key        TEXT NOT NULL UNIQUE,
    episode_id      INTEGER REFERENCES episodes(id),
    child_id        INTEGER REFERENCES children(id),
    recipient       TEXT NOT NULL,          -- 'staff:<id>' (direct) or 'team:<name>' (group)
    rule_id         TEXT,
    text            TEXT NOT NULL,
    buttons_json    TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',   -- pending | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_at      TEXT,
    sent_at         TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox(state, next_attempt_at);
