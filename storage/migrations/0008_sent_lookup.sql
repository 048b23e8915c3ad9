-- Version 8: a retry after one of several chats failed skips the chats that already have it.
CREATE INDEX chat_messages_outbox ON chat_messages(outbox_id, transport, chat_id);
