"""The inbox: platform updates kept from the moment they are fetched until they are handled.

A platform forgets an update once the bot confirms it (Telegram: the next getUpdates offset;
a webhook: the 200). Storing it first means a crash between confirming and handling replays
it instead of losing a carer's report. `applied_at` is set in the command's own transaction
(see `storage.db.APPLYING`), so a replay never carries out the same command twice. The text
people typed is dropped once handled; the ids stay a day so a re-sent update is recognised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import APPLYING, Database, OnDisk, from_db_time, to_db_time

KEEP_HANDLED = timedelta(days=1)


@dataclass(frozen=True)
class Pending:
    update_id: int
    payload: str | None  # None: only its command's mark was kept (see storage.db.APPLYING)
    applied_at: datetime | None


async def store(db: Database, transport: str, update_id: int, payload: str, now: datetime) -> bool:
    """Keep an update before the platform is told we have it. False if it is already kept
    (re-sent by the platform, or being replayed): the caller must not handle it again."""
    stored, on_disk = await store_soon(db, transport, update_id, payload, now)
    await on_disk
    return stored


async def store_soon(
    db: Database, transport: str, update_id: int, payload: str, now: datetime
) -> tuple[bool, OnDisk]:
    """`store`, returning once the row is written, with what to await for it to be on disk."""
    changed, on_disk = await db.write_one_soon(
        "INSERT INTO inbox (transport, update_id, payload, received_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (transport, update_id) DO NOTHING",
        (transport, update_id, payload, to_db_time(now)),
    )
    return changed == 1, on_disk


async def unhandled(db: Database, transport: str) -> list[Pending]:
    """Updates stored but not handled when the bot last stopped, oldest first."""
    rows = await db.fetchall(
        "SELECT update_id, payload, applied_at FROM inbox"
        " WHERE transport = ? AND handled_at IS NULL ORDER BY update_id",
        (transport,),
    )
    return [Pending(r["update_id"], r["payload"], from_db_time(r["applied_at"])) for r in rows]


async def mark_handled(
    db: Database, transport: str, update_ids: Sequence[int], now: datetime
) -> None:
    """Handled: the text is dropped; the ids stay a day (see `prune`). One statement. An
    upsert: if the update's own row was lost with a failed commit, it must not be stored
    again later as unhandled (bot/telegram_inbox.py) and replayed at the next start."""
    when = to_db_time(now)
    rows = ", ".join("(?, ?, ?, ?)" for _ in update_ids)
    params = [value for update_id in update_ids for value in (transport, update_id, when, when)]
    await db.write_one(
        f"INSERT INTO inbox (transport, update_id, received_at, handled_at) VALUES {rows}"
        " ON CONFLICT (transport, update_id) DO UPDATE SET handled_at = excluded.handled_at,"
        " payload = NULL",
        params,
    )


async def prune(db: Database, now: datetime) -> int:
    """Forget handled updates after a day: by then no platform re-sends them."""
    return await db.write_one(
        "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?",
        (to_db_time(now - KEEP_HANDLED),),
    )


@contextmanager
def applying(transport: str, update_id: int, now: datetime) -> Iterator[None]:
    """Writes committed inside this block mark the update as applied, in the same transaction."""
    token = APPLYING.set((transport, update_id, now))
    try:
        yield
    finally:
        APPLYING.reset(token)
