"""Reads over the outbox and the climbs: whom an episode's alerts have reached, and when.

Read-only: what a reporter is told ("Alerting Olu now"), what `/status` shows, and the
true words of a climb's later messages ("Olu took this at 22:41 and has not confirmed
since 23:30") come from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage import message_keys
from storage.db import Reader, from_db_time, from_db_time_set, to_db_time
from storage.models import OutboxState, Recipient


@dataclass(frozen=True)
class ClimbSent:
    """One climb send about an episode, as queued, and how its delivery went."""

    recipient: Recipient
    escalation_id: int
    needs_ack: bool
    step: int
    repeat: int
    created_at: datetime
    state: OutboxState
    sent_at: datetime | None


async def climb_sends(r: Reader, episode_id: int, since: datetime | None = None) -> list[ClimbSent]:
    """Every climb send about the episode (queued at or after `since`), oldest first."""
    rows = await r.fetchall(
        "SELECT o.recipient, o.escalation_id, e.needs_ack, o.escalation_step,"
        " o.escalation_repeat, o.created_at, COALESCE(h.state, o.state) AS state,"
        " COALESCE(h.sent_at, o.sent_at) AS sent_at FROM outbox o"
        " JOIN escalations e ON e.id = o.escalation_id"
        " LEFT JOIN outbox h ON h.id = o.merged_into"  # a merged row went as the row it joined
        " WHERE o.episode_id = ? AND o.escalation_repeat IS NOT NULL AND o.created_at >= ?"
        " ORDER BY o.id",
        (episode_id, to_db_time(since) if since else ""),
    )
    return [
        ClimbSent(
            recipient=Recipient.parse(row["recipient"]),
            escalation_id=row["escalation_id"],
            needs_ack=bool(row["needs_ack"]),
            step=row["escalation_step"],
            repeat=row["escalation_repeat"],
            created_at=from_db_time_set(row["created_at"]),
            state=OutboxState(row["state"]),
            sent_at=from_db_time(row["sent_at"]),
        )
        for row in rows
    ]


def _prefix(prefix: str) -> tuple[int, str]:
    """`substr(idem_key, 1, ?) = ?`: keys that start with the prefix, on either engine."""
    return len(prefix), prefix


async def first_send_to(
    r: Reader, escalation_id: int, cycle: int, recipient: Recipient
) -> datetime | None:
    """When this cycle of the climb first queued a send to the recipient (None: never)."""
    row = await r.fetchone(
        "SELECT MIN(created_at) AS t FROM outbox WHERE escalation_id = ? AND recipient = ?"
        " AND escalation_repeat IS NOT NULL AND substr(idem_key, 1, ?) = ?",
        (
            escalation_id,
            str(recipient),
            *_prefix(message_keys.climb_cycle_prefix(escalation_id, cycle)),
        ),
    )
    return from_db_time(row["t"]) if row else None


async def last_confirm_asked(r: Reader, escalation_id: int) -> datetime | None:
    """When the climb's holder was last asked "still on it?"."""
    row = await r.fetchone(
        "SELECT MAX(created_at) AS t FROM outbox WHERE escalation_id = ?"
        " AND substr(idem_key, 1, ?) = ?",
        (escalation_id, *_prefix(message_keys.climb_confirm_prefix(escalation_id))),
    )
    return from_db_time(row["t"]) if row else None


async def holder_updates_since(r: Reader, episode_id: int, since: datetime) -> list[Recipient]:
    """Holders told of a change to the episode at or after `since` (message_keys.held_update)."""
    rows = await r.fetchall(
        "SELECT recipient FROM outbox WHERE episode_id = ? AND created_at >= ?"
        " AND substr(idem_key, 1, ?) = ? ORDER BY id",
        (episode_id, to_db_time(since), *_prefix(message_keys.held_update_prefix(episode_id))),
    )
    return [Recipient.parse(row["recipient"]) for row in rows]


async def climb_send_count(r: Reader, escalation_id: int) -> int:
    """How many sends the climb has queued, in any cycle."""
    row = await r.fetchone(
        "SELECT COUNT(*) AS n FROM outbox WHERE escalation_id = ? AND escalation_repeat IS NOT NULL",
        (escalation_id,),
    )
    return int(row["n"]) if row else 0


async def recipients_since(r: Reader, episode_id: int, since: datetime) -> list[Recipient]:
    """Everyone a message about the episode was queued to at or after `since`, in order."""
    rows = await r.fetchall(
        "SELECT recipient FROM outbox WHERE episode_id = ? AND created_at >= ?"
        " AND recipient != 'redact' ORDER BY id",
        (episode_id, to_db_time(since)),
    )
    return [Recipient.parse(text) for text in dict.fromkeys(row["recipient"] for row in rows)]
