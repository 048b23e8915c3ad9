-- Version 5: statutory duties are chased. Each duty keeps a copy of its rule's spec (like a
-- climb), the role that owns it, and when the next reminder is due.
ALTER TABLE duties ADD COLUMN owner_role TEXT;
ALTER TABLE duties ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE duties ADD COLUMN spec_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE duties ADD COLUMN next_remind_at TEXT;
ALTER TABLE duties ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE duties ADD COLUMN overdue_reminders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE duties ADD COLUMN manager_told_at TEXT;
ALTER TABLE duties ADD COLUMN applies_from TEXT;   -- only if still missing then (MIS-48H ...)
ALTER TABLE duties ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX duties_remind ON duties(next_remind_at) WHERE next_remind_at IS NOT NULL;
CREATE INDEX duties_owner ON duties(owner_id, state);
CREATE INDEX duties_child_rule ON duties(child_id, rule_id, created_at);
