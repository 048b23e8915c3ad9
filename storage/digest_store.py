"""SQL for the morning digest: what a person hears at the start of their next office hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Reader, Row, Tx, from_db_time, from_db_time_set, to_db_time


@dataclass(frozen=True)
class DigestItem:
    id: int
    staff_id: str
    send_at: datetime
    topic: str
    child_id: int | None
    episode_id: int | None
    duty_id: int | None
    rule_id: str | None
    text: str
    created_at: datetime
    sent_at: datetime | None


def _item(row: Row) -> DigestItem:
    return DigestItem(
        id=row["id"],
        staff_id=row["staff_id"],
        send_at=from_db_time_set(row["send_at"]),
        topic=row["topic"],
        child_id=row["child_id"],
        episode_id=row["episode_id"],
        duty_id=row["duty_id"],
        rule_id=row["rule_id"],
        text=row["text"],
        created_at=from_db_time_set(row["created_at"]),
        sent_at=from_db_time(row["sent_at"]),
    )


async def hold(
    tx: Tx,
    *,
    staff_id: str,
    send_at: datetime,
    topic: str,
    text: str,
    now: datetime,
    child_id: int | None = None,
    episode_id: int | None = None,
    duty_id: int | None = None,
    rule_id: str | None = None,
) -> bool:
    """Keep an item for the person's digest at `send_at`; once per topic (False: already held)."""
    cur = await tx.execute(
        "INSERT OR IGNORE INTO digest_items (staff_id, send_at, topic, child_id, episode_id,"
        " duty_id, rule_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            staff_id,
            to_db_time(send_at),
            topic,
            child_id,
            episode_id,
            duty_id,
            rule_id,
            text,
            to_db_time(now),
        ),
    )
    return cur.rowcount > 0


async def due(r: Reader, now: datetime) -> list[tuple[str, datetime]]:
    """(person, opening) for every digest whose opening has come and that is not yet sent."""
    rows = await r.fetchall(
        "SELECT DISTINCT staff_id, send_at FROM digest_items"
        " WHERE sent_at IS NULL AND send_at <= ? ORDER BY send_at, staff_id",
        (to_db_time(now),),
    )
    return [(row["staff_id"], from_db_time_set(row["send_at"])) for row in rows]


async def next_due(r: Reader) -> datetime | None:
    row = await r.fetchone("SELECT MIN(send_at) AS t FROM digest_items WHERE sent_at IS NULL")
    return from_db_time(row["t"]) if row else None


async def items(r: Reader, staff_id: str, send_at: datetime) -> list[DigestItem]:
    rows = await r.fetchall(
        "SELECT * FROM digest_items WHERE staff_id = ? AND send_at = ? AND sent_at IS NULL"
        " ORDER BY created_at, id",
        (staff_id, to_db_time(send_at)),
    )
    return [_item(row) for row in rows]


async def pending_for(r: Reader, staff_id: str) -> list[DigestItem]:
    rows = await r.fetchall(
        "SELECT * FROM digest_items WHERE staff_id = ? AND sent_at IS NULL ORDER BY send_at, id",
        (staff_id,),
    )
    return [_item(row) for row in rows]


async def mark_sent(tx: Tx, staff_id: str, send_at: datetime, now: datetime) -> None:
    await tx.execute(
        "UPDATE digest_items SET sent_at = ? WHERE staff_id = ? AND send_at = ? AND sent_at IS NULL",
        (to_db_time(now), staff_id, to_db_time(send_at)),
    )
