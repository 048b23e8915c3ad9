-- Version 9: updates from a chat platform are stored before the platform is told we have
-- them, and replayed after a crash until handled. The payload is kept only until then.
CREATE TABLE inbox (
    transport TEXT NOT NULL,
    update_id INTEGER NOT NULL,
    payload TEXT,
    received_at TEXT NOT NULL,
    applied_at TEXT,
    handled_at TEXT,
    PRIMARY KEY (transport, update_id)
);
CREATE INDEX inbox_unhandled ON inbox(transport, handled_at, update_id);
