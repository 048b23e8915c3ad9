"""SQL for merging outbox messages: one person, one episode, a minute (bot/merging.py)."""

from __future__ import annotations

from collections.abc import Sequence

from storage.db import Reader, Tx
from storage.models import Button, OutboxMessage, buttons_to_json
from storage.outbox_store import _outbox  # the one reading of an outbox row


async def absorb(
    tx: Tx, head_id: int, text: str, buttons: Sequence[Button], absorbed: Sequence[int]
) -> None:
    """The head row carries the combined text; the absorbed rows are done, as part of it.

    Runs in the claim's transaction: a crash before the send leaves the head pending with
    the combined text (sent again whole) and the absorbed rows merged, never sent twice."""
    await tx.execute(
        "UPDATE outbox SET text = ?, buttons_json = ? WHERE id = ?",
        (text, buttons_to_json(list(buttons)), head_id),
    )
    for message_id in absorbed:
        await tx.execute(
            "UPDATE outbox SET state = 'merged', merged_into = ?, claimed_at = NULL"
            " WHERE id = ? AND state = 'sending'",
            (head_id, message_id),
        )


async def merged_into(r: Reader, head_id: int) -> list[OutboxMessage]:
    """The rows a sent message carried, oldest first."""
    rows = await r.fetchall("SELECT * FROM outbox WHERE merged_into = ? ORDER BY id", (head_id,))
    return [_outbox(row) for row in rows]
