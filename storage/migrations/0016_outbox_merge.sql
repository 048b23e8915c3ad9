-- Version 16: messages to one person about one episode queued within a minute go as one
-- (bot/merging.py). The first row carries the combined text and is sent; each row merged
-- into it keeps its own idempotency key (so it is never queued again) with state 'merged'
-- and merged_into naming the row that carried it: its delivery is that row's.
ALTER TABLE outbox ADD COLUMN merged_into INTEGER REFERENCES outbox(id);
CREATE INDEX outbox_merged ON outbox(merged_into) WHERE merged_into IS NOT NULL;
