-- Version 14: the rota kept in the database, not only loaded from a file. A shift says where
-- it came from (import, cli, chat), who made it and when. An imported shift's identity is its
-- source file and its key in that file (role, person, from, to for a table row; the event's
-- UID and recurrence for a calendar), so importing the same file again changes nothing and a
-- changed file updates in place. A cover (precedence 1) overrides the scheduled person
-- (precedence 0) for exactly its span. Every change is on the audit trail.
ALTER TABLE rota ADD COLUMN source TEXT NOT NULL DEFAULT 'import';   -- import | cli | chat
ALTER TABLE rota ADD COLUMN source_file TEXT;     -- an import's file name; NULL otherwise
ALTER TABLE rota ADD COLUMN import_key TEXT;      -- the shift's identity within that file
ALTER TABLE rota ADD COLUMN precedence INTEGER NOT NULL DEFAULT 0;  -- 0 scheduled, 1 cover
ALTER TABLE rota ADD COLUMN made_by TEXT;         -- a staff id, or NULL for an admin's import
ALTER TABLE rota ADD COLUMN made_at TEXT;

-- Rows imported before this version: exact repeats (the same file imported twice) are one.
DELETE FROM rota WHERE id NOT IN (
    SELECT MIN(id) FROM rota GROUP BY role, staff_id, starts_at, ends_at
);
-- Their key as an import gives it (handlers/rota.py table_keys): role, from, to and the
-- place among the rows with those three (two people on one role at once are two shifts).
WITH numbered AS (
    SELECT id, ROW_NUMBER() OVER (PARTITION BY role, starts_at, ends_at ORDER BY id) - 1 AS n
    FROM rota
)
UPDATE rota SET source_file = 'team file',
    import_key = role || '|' || starts_at || '|' || ends_at || '#' || numbered.n
FROM numbered WHERE numbered.id = rota.id;

CREATE UNIQUE INDEX rota_identity ON rota(source_file, import_key) WHERE import_key IS NOT NULL;
CREATE INDEX rota_staff_time ON rota(staff_id, starts_at);

CREATE TABLE rota_audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT,                 -- a staff id; NULL for the command line or an import
    action      TEXT NOT NULL,        -- added | changed | removed | cover | swap
    shift_id    INTEGER,              -- the shift (gone if removed)
    role        TEXT NOT NULL,
    staff_id    TEXT,                 -- who holds it now (NULL: removed)
    before_id   TEXT,                 -- who held it before (NULL: new)
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    source      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX rota_audit_at ON rota_audit(at);

-- A swap asked for and waiting for the colleague's yes (a button and its typed command).
CREATE TABLE rota_swaps (
    id          INTEGER PRIMARY KEY,
    role        TEXT NOT NULL,
    asked_by    TEXT NOT NULL REFERENCES staff(id),
    asked_of    TEXT NOT NULL REFERENCES staff(id),
    day         TEXT NOT NULL,        -- the asker's local date they give away
    their_day   TEXT,                 -- the colleague's local date they take in return, if any
    asked_at    TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'asked',   -- asked | accepted | declined
    answered_at TEXT
);
