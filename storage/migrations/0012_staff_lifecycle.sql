-- Version 12: staff who have left (when, by whom, why), contact details for calendar matching
-- and later SMS and e-mail, and invites that add a device rather than replace the account.
-- `active` stays the switch every lookup reads; left_at says since when it has been off.
ALTER TABLE staff ADD COLUMN left_at TEXT;
ALTER TABLE staff ADD COLUMN left_by TEXT;
ALTER TABLE staff ADD COLUMN left_reason TEXT;
ALTER TABLE staff ADD COLUMN email TEXT;
ALTER TABLE staff ADD COLUMN phone TEXT;
ALTER TABLE invites ADD COLUMN add_device INTEGER NOT NULL DEFAULT 0;
