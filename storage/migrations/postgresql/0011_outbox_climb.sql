-- Version 11: a climb's messages say which climb, step and repeat they belong to in columns
-- of their own, so "who has this climb told" is a lookup, not a pattern over the keys.
-- A climb's sends have all three; a supervisor's notice about a step (nobody to tell, or
-- someone unreachable) has the climb and the step; a climb's other messages the climb only.
ALTER TABLE outbox ADD COLUMN escalation_id INTEGER REFERENCES escalations(id);
ALTER TABLE outbox ADD COLUMN escalation_step INTEGER;
ALTER TABLE outbox ADD COLUMN escalation_repeat INTEGER;

-- Messages queued before this version: their columns are read from their keys, as in
-- storage/migrations/0011_outbox_climb.sql, in PostgreSQL's string functions. (A database
-- reaches PostgreSQL new, or by `whereabouts migrate-db` from a migrated SQLite file, so
-- this finds nothing there; it is kept for the record, and so the two stay one schema.)
UPDATE outbox SET escalation_id = CAST(substr(idem_key, 4, strpos(idem_key, ':') - 4) AS INTEGER)
WHERE idem_key ~ '^esc[0-9]+:';

WITH
  cycled AS (
    SELECT id, substr(idem_key, strpos(idem_key, ':') + 1) AS rest
    FROM outbox WHERE escalation_id IS NOT NULL
  ),
  parts AS (
    SELECT id, substr(rest, strpos(rest, ':') + 1) AS part
    FROM cycled WHERE rest ~ '^c[0-9]+:'
  ),
  steps AS (
    SELECT id,
      CASE
        WHEN part ~ '^s[0-9]+:r[0-9]+:' THEN part
        WHEN part ~ '^gap:s[0-9]+:' THEN substr(part, 5)
        WHEN part ~ '^unreachable:s[0-9]+:' THEN substr(part, 13)
      END AS from_step,
      part ~ '^s[0-9]+:r[0-9]+:' AS is_send
    FROM parts
  ),
  numbered AS (
    SELECT id, is_send,
      CAST(substr(from_step, 2, strpos(from_step, ':') - 2) AS INTEGER) AS step,
      substr(from_step, strpos(from_step, ':') + 1) AS from_repeat
    FROM steps WHERE from_step IS NOT NULL
  )
UPDATE outbox SET
  escalation_step = numbered.step,
  escalation_repeat = CASE WHEN numbered.is_send
    THEN CAST(substr(from_repeat, 2, strpos(from_repeat, ':') - 2) AS INTEGER) END
FROM numbered WHERE numbered.id = outbox.id;

CREATE INDEX outbox_escalation ON outbox(escalation_id, escalation_step, recipient)
    WHERE escalation_id IS NOT NULL;
