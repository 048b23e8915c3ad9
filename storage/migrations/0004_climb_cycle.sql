-- Version 4: a climb that is reset (an update answers the carer-review nag) starts a new
-- cycle, so its messages get new keys instead of colliding with the ones already sent.
ALTER TABLE escalations ADD COLUMN cycle INTEGER NOT NULL DEFAULT 0;
