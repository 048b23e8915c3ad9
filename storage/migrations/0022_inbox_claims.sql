-- Version 22: each stored platform update names the instance handling it (claimed_by), as
-- the outbox's claims do (0019). Replay takes only updates whose instance is dead (or this
-- one's previous life), or nobody's, so an instance starting, or a survivor on its beat,
-- never takes an update another live instance is handling now. NULL: stored before this.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
