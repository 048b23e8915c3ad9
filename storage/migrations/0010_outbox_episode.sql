-- Version 10: a finalised episode's clearing waits for its earlier messages; this index
-- finds them.
CREATE INDEX outbox_episode ON outbox(episode_id, state, id);
