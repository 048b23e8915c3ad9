-- Version 20: Microsoft Teams. The conversation reference of every 1:1 chat and channel the
-- app is installed in (from installation and conversation-update activities), so alerts,
-- reminders and summaries can be sent to it later. A person with no personal row has not
-- installed the app: an alert to them is undeliverable and moves on.
CREATE TABLE teams_conversations (
    conversation_id TEXT PRIMARY KEY,         -- a channel's id, or the 1:1 chat's
    kind            TEXT NOT NULL,            -- personal | channel | groupChat
    user_id         TEXT,                     -- personal: the person's Teams id (29:…)
    team_id         TEXT,                     -- channel: the team it belongs to
    tenant_id       TEXT NOT NULL,
    service_url     TEXT NOT NULL,            -- where the Bot Connector takes sends for it
    bot_id          TEXT NOT NULL,            -- the bot's id in that conversation (28:…)
    updated_at      TEXT NOT NULL,
    removed_at      TEXT                      -- the app was uninstalled there
);
CREATE INDEX teams_conversations_user ON teams_conversations(user_id, kind);
