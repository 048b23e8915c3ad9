"""SQL for chat platforms: registered team chats, sent-message bookkeeping (invites are
staff_store's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Reader, Tx, from_db_time_set, to_db_time, write_alone

# ---- team chats ---------------------------------------------------------------


async def register_team_chat(
    tx: Tx, transport: str, chat_id: str, team: str, staff_id: str, now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO team_chats (transport, chat_id, team, registered_by, registered_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(transport, chat_id) DO UPDATE SET"
        " team = excluded.team, registered_by = excluded.registered_by,"
        " registered_at = excluded.registered_at",
        (transport, chat_id, team, staff_id, to_db_time(now)),
    )


async def team_of_chat(r: Reader, transport: str, chat_id: str) -> str | None:
    row = await r.fetchone(
        "SELECT team FROM team_chats WHERE transport = ? AND chat_id = ?", (transport, chat_id)
    )
    return row["team"] if row else None


async def chats_of_team(r: Reader, team: str) -> dict[str, list[str]]:
    """transport -> chat ids registered for the team."""
    rows = await r.fetchall(
        "SELECT transport, chat_id FROM team_chats WHERE team = ? ORDER BY transport, chat_id",
        (team,),
    )
    result: dict[str, list[str]] = {}
    for row in rows:
        result.setdefault(row["transport"], []).append(row["chat_id"])
    return result


@dataclass(frozen=True)
class TeamChat:
    """A registered team chat: which team it receives, on which platform, who set it up."""

    transport: str
    chat_id: str
    team: str
    registered_by: str
    registered_at: datetime


async def team_chats(r: Reader) -> list[TeamChat]:
    rows = await r.fetchall("SELECT * FROM team_chats ORDER BY team, transport, chat_id")
    return [
        TeamChat(
            row["transport"],
            row["chat_id"],
            row["team"],
            row["registered_by"],
            from_db_time_set(row["registered_at"]),
        )
        for row in rows
    ]


async def unregister_team_chat(tx: Tx, transport: str, chat_id: str) -> bool:
    """Remove a chat's registration; False if it had none."""
    cursor = await tx.execute(
        "DELETE FROM team_chats WHERE transport = ? AND chat_id = ?", (transport, chat_id)
    )
    return cursor.rowcount == 1


# ---- sent messages ----------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    id: int
    episode_id: int | None
    transport: str
    chat_id: str
    message_id: str
    kind: str
    sent_at: datetime


async def record_sent(
    w: Tx | Database,
    *,
    outbox_id: int | None,
    episode_id: int | None,
    transport: str,
    chat_id: str,
    message_id: str,
    kind: str,
    now: datetime,
) -> None:
    await write_alone(
        w,
        "INSERT INTO chat_messages (outbox_id, episode_id, transport, chat_id, message_id, kind,"
        " sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (outbox_id, episode_id, transport, chat_id, message_id, kind, to_db_time(now)),
    )


async def already_sent(r: Reader, outbox_id: int, transport: str, chat_id: str) -> bool:
    """A retry of a message that reached this chat before (another chat failed) skips it."""
    row = await r.fetchone(
        "SELECT 1 FROM chat_messages WHERE outbox_id = ? AND transport = ? AND chat_id = ? LIMIT 1",
        (outbox_id, transport, chat_id),
    )
    return row is not None


async def thread_root(r: Reader, episode_id: int, transport: str, chat_id: str) -> str | None:
    """The first group message about the episode in this chat: later ones reply to it."""
    row = await r.fetchone(
        "SELECT message_id FROM chat_messages WHERE episode_id = ? AND transport = ?"
        " AND chat_id = ? AND kind = 'group' ORDER BY id LIMIT 1",
        (episode_id, transport, chat_id),
    )
    return row["message_id"] if row else None


async def unredacted(r: Reader, episode_id: int, transport: str) -> list[ChatMessage]:
    rows = await r.fetchall(
        "SELECT * FROM chat_messages WHERE episode_id = ? AND transport = ?"
        " AND redacted_at IS NULL ORDER BY id",
        (episode_id, transport),
    )
    return [
        ChatMessage(
            row["id"],
            row["episode_id"],
            row["transport"],
            row["chat_id"],
            row["message_id"],
            row["kind"],
            from_db_time_set(row["sent_at"]),
        )
        for row in rows
    ]


async def mark_redacted(tx: Tx, chat_message_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE chat_messages SET redacted_at = ? WHERE id = ?", (to_db_time(now), chat_message_id)
    )
