"""SQL for merging outbox messages: one person, one episode, a minute (bot/merging.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.db import Reader, Tx, to_db_time
from storage.models import Button, MessageUrgency, OutboxMessage, buttons_to_json
from storage.outbox_store import _outbox  # the one reading of an outbox row


async def following(
    tx: Tx, head: OutboxMessage, now: datetime, limit: int
) -> list[tuple[OutboxMessage, bool]]:
    """The pending rows that come after a claimed head in its recipient's queue (delivery
    order: most urgent first, then oldest), with whether each is due now."""
    rows = await tx.fetchall(
        "SELECT *, next_attempt_at <= ? AS due FROM outbox"
        " WHERE recipient = ? AND state = 'pending'"
        " AND (urgency < ? OR (urgency = ? AND id > ?))"
        " ORDER BY urgency DESC, id LIMIT ?",
        (to_db_time(now), head.recipient, head.urgency, head.urgency, head.id, limit),
    )
    return [(_outbox(row), bool(row["due"])) for row in rows]


async def absorb(
    tx: Tx,
    head_id: int,
    text: str,
    buttons: Sequence[Button],
    absorbed: Sequence[int],
    urgency: MessageUrgency = MessageUrgency.ROUTINE,
) -> None:
    """The head row carries the combined text, and the highest urgency of its parts; the
    absorbed rows are done, as part of it (each counted as tried once, with the head).

    Runs in the claim's transaction: a crash before the send leaves the head pending with
    the combined text (sent again whole) and the absorbed rows merged, never sent twice."""
    await tx.execute(
        "UPDATE outbox SET text = ?, buttons_json = ?, urgency = ? WHERE id = ?",
        (text, buttons_to_json(list(buttons)), int(urgency), head_id),
    )
    for message_id in absorbed:
        await tx.execute(
            "UPDATE outbox SET state = 'merged', merged_into = ?, claimed_at = NULL,"
            " attempts = attempts + 1 WHERE id = ? AND state = 'pending'",
            (head_id, message_id),
        )


async def merged_into(r: Reader, head_id: int) -> list[OutboxMessage]:
    """The rows a sent message carried, oldest first."""
    rows = await r.fetchall("SELECT * FROM outbox WHERE merged_into = ? ORDER BY id", (head_id,))
    return [_outbox(row) for row in rows]
