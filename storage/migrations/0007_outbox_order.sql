-- Version 7: messages to one recipient go in order. A retry waiting holds back the later
-- messages to the same recipient; this index finds such a retry quickly.
CREATE INDEX outbox_recipient ON outbox(recipient, state, id);
