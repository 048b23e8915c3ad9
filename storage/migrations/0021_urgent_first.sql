-- Version 21: urgent alerts first, and formal notices by e-mail.
-- urgency: 1 for a message the rule catalogue marks urgent (an urgent ladder's climb, an
--   urgent duty's reminders), 0 for routine (summaries, digests, duty reminders that can
--   wait). The outbox claims urgent messages ahead of routine ones; per recipient, order is
--   kept within the same urgency (storage/outbox_store.py claim_outbox).
ALTER TABLE outbox ADD COLUMN urgency INTEGER NOT NULL DEFAULT 0;
-- The claim walks pending rows in delivery order: most urgent first, oldest first.
CREATE INDEX outbox_claim ON outbox(state, urgency DESC, id);
-- And looks at each candidate's recipient's queue: anything in flight, or before it.
CREATE INDEX outbox_recipient_queue ON outbox(recipient, state, urgency, id);
-- home_authority_email: where a formal notice to the child's home authority goes (HOST-TELL,
--   NS §4.1; the Director's letter, NS §4.3), by e-mail, once the named person confirms it
--   in chat (handlers/notices.py). From the team file; per deployment.
ALTER TABLE children ADD COLUMN home_authority_email TEXT;
