-- Version 3: chat platforms. Invite codes, registered team chats, and what was sent where
-- (so buttons can be edited, episode threads kept, and chat copies redacted on finalising).

CREATE TABLE invites (
    code_hash   TEXT PRIMARY KEY,               -- sha256 of the code; the code itself is never stored
    staff_id    TEXT NOT NULL REFERENCES staff(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    used_by     TEXT                            -- '<transport>:<external id>'
);

CREATE TABLE team_chats (
    transport     TEXT NOT NULL,
    chat_id       TEXT NOT NULL,
    team          TEXT NOT NULL,                -- a home (oak-house), or out-of-hours, managers ...
    registered_by TEXT NOT NULL REFERENCES staff(id),
    registered_at TEXT NOT NULL,
    PRIMARY KEY (transport, chat_id)
);
CREATE INDEX team_chats_team ON team_chats(team);

CREATE TABLE chat_messages (
    id           INTEGER PRIMARY KEY,
    outbox_id    INTEGER REFERENCES outbox(id),
    episode_id   INTEGER REFERENCES episodes(id),
    transport    TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,                 -- direct | profile | group
    sent_at      TEXT NOT NULL,
    redacted_at  TEXT
);
CREATE INDEX chat_messages_episode ON chat_messages(episode_id, transport, chat_id);

ALTER TABLE staff_identities ADD COLUMN blocked_at TEXT;
