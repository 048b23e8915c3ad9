-- Version 23: the claim looks at each waiting recipient's queue head, not at every pending row.
-- With a backlog for a few people (the out-of-hours worker at 03:00 gets every alert), the
-- claim used to walk every pending row behind one already in flight: its cost grew with the
-- backlog, inside the single write transaction every command waits for. This index holds the
-- pending rows by recipient, in delivery order, so the claim steps from one waiting recipient
-- to the next and reads each one's head directly (storage/outbox_store.py _CLAIM).
CREATE INDEX outbox_waiting ON outbox(recipient, urgency DESC, id) WHERE state = 'pending';
