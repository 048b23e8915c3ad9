"""SQL for Microsoft Teams: the conversation references the bot sends to (migration 0020).

A reference is what the Bot Connector needs to send into a conversation without being asked:
its id, the service URL that serves it, the tenant and the bot's id there. Teams gives one
when the app is installed in a person's 1:1 chat or a team (and on every message after).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Reader, Row, Tx, to_db_time, write_alone


@dataclass(frozen=True)
class Reference:
    conversation_id: str
    kind: str  # personal | channel | groupChat
    user_id: str | None
    team_id: str | None
    tenant_id: str
    service_url: str
    bot_id: str


async def remember(w: Tx | Database, ref: Reference, now: datetime) -> None:
    """Keep (or refresh) a conversation reference; an uninstalled one is installed again."""
    await write_alone(
        w,
        "INSERT INTO teams_conversations (conversation_id, kind, user_id, team_id, tenant_id,"
        " service_url, bot_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (conversation_id) DO UPDATE SET kind = excluded.kind,"
        " user_id = COALESCE(excluded.user_id, teams_conversations.user_id),"
        " team_id = COALESCE(excluded.team_id, teams_conversations.team_id),"
        " tenant_id = excluded.tenant_id, service_url = excluded.service_url,"
        " bot_id = excluded.bot_id, updated_at = excluded.updated_at, removed_at = NULL",
        (
            ref.conversation_id,
            ref.kind,
            ref.user_id,
            ref.team_id,
            ref.tenant_id,
            ref.service_url,
            ref.bot_id,
            to_db_time(now),
        ),
    )


async def forget(w: Tx | Database, conversation_id: str, now: datetime) -> None:
    """The app was uninstalled there (or the connector says the conversation is gone)."""
    await write_alone(
        w,
        "UPDATE teams_conversations SET removed_at = ? WHERE conversation_id = ?",
        (to_db_time(now), conversation_id),
    )


async def forget_team(w: Tx | Database, team_id: str, now: datetime) -> None:
    """The app was removed from a team: every channel of it."""
    await write_alone(
        w,
        "UPDATE teams_conversations SET removed_at = ? WHERE team_id = ? AND kind = 'channel'",
        (to_db_time(now), team_id),
    )


def _reference(row: Row) -> Reference:
    return Reference(
        row["conversation_id"],
        row["kind"],
        row["user_id"],
        row["team_id"],
        row["tenant_id"],
        row["service_url"],
        row["bot_id"],
    )


async def conversation(r: Reader, conversation_id: str) -> Reference | None:
    """An installed conversation by its id (a channel's id, or a 1:1 chat's)."""
    row = await r.fetchone(
        "SELECT * FROM teams_conversations WHERE conversation_id = ? AND removed_at IS NULL",
        (conversation_id,),
    )
    return _reference(row) if row else None


async def personal(r: Reader, user_id: str) -> Reference | None:
    """The person's 1:1 chat with the app; None if they have not installed it."""
    row = await r.fetchone(
        "SELECT * FROM teams_conversations WHERE user_id = ? AND kind = 'personal'"
        " AND removed_at IS NULL ORDER BY updated_at DESC LIMIT 1",
        (user_id,),
    )
    return _reference(row) if row else None
