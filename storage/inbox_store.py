"""The inbox: platform updates kept from the moment they are fetched until they are handled.

A platform forgets an update once the bot confirms it (Telegram: the next getUpdates offset;
a webhook: the 200). Storing it first means a crash between confirming and handling replays
it instead of losing a carer's report. `applied_at` is set in the command's own transaction
(see `storage.db.APPLYING`), so a replay never carries out the same command twice. The text
people typed is dropped once handled; the ids stay a day so a re-sent update is recognised.

Several instances on one database (PostgreSQL): each stored update names the instance that
holds it (`claimed_by`), the one that stored it or took it over. Replay (`claim_unhandled`)
takes only updates nobody holds, or whose holder is dead (its heartbeat older than the
staleness the caller gives, or no instances row), or at start this instance's previous life,
never one another live instance is handling now. The claims take turns on one advisory
lock, so each sees the others' committed claims and two survivors never take one update.
On SQLite one process holds the file: at start every earlier life is dead, as before.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import (
    APPLYING,
    Database,
    OnDisk,
    Row,
    from_db_time,
    from_db_time_set,
    to_db_time,
)

KEEP_HANDLED = timedelta(days=1)
INBOX_CLAIMS_LOCK = 0x57484552_494E4258  # "WHERINBX": pg_advisory_xact_lock's key


@dataclass(frozen=True)
class Pending:
    update_id: int
    payload: str | None  # None: only its command's mark was kept (see storage.db.APPLYING)
    applied_at: datetime | None
    received_at: datetime


def unregistered() -> str:
    """The holder named by an inbox run without an instance (a test, a rig): no heartbeat
    vouches for it, so to any other replay its updates are a dead instance's."""
    return f"unregistered:{secrets.token_hex(4)}"


async def store(
    db: Database,
    transport: str,
    update_id: int,
    payload: str,
    now: datetime,
    holder: str | None = None,
) -> bool:
    """Keep an update before the platform is told we have it, held by `holder` (this
    instance). False if it is already kept (re-sent by the platform, or being replayed):
    the caller must not handle it again."""
    stored, on_disk = await store_soon(db, transport, update_id, payload, now, holder)
    await on_disk
    return stored


async def store_soon(
    db: Database,
    transport: str,
    update_id: int,
    payload: str,
    now: datetime,
    holder: str | None = None,
) -> tuple[bool, OnDisk]:
    """`store`, returning once the row is written, with what to await for it to be on disk."""
    changed, on_disk = await db.write_one_soon(
        "INSERT INTO inbox (transport, update_id, payload, received_at, claimed_by)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (transport, update_id) DO NOTHING",
        (transport, update_id, payload, to_db_time(now), holder),
    )
    return changed == 1, on_disk


async def unhandled(db: Database, transport: str) -> list[Pending]:
    """Updates stored but not handled, oldest first, whoever holds them (a look: replay
    takes them with `claim_unhandled`)."""
    rows = await db.fetchall(
        "SELECT update_id, payload, applied_at, received_at FROM inbox"
        " WHERE transport = ? AND handled_at IS NULL ORDER BY update_id",
        (transport,),
    )
    return [_pending(r) for r in rows]


def _pending(r: Row) -> Pending:
    return Pending(
        r["update_id"],
        r["payload"],
        from_db_time(r["applied_at"]),
        from_db_time_set(r["received_at"]),
    )


def _claimable(own: bool) -> str:
    """Unhandled, and held by nobody, by a dead instance, or (`own`) by this one. Not `own`:
    this instance's own updates are in hand now (stored by this life, or taken over)."""
    mine = "claimed_by = ?" if own else "claimed_by <> ? AND"
    live = "SELECT id FROM instances WHERE heartbeat_at >= ?"
    held = f"{mine} OR claimed_by NOT IN ({live})" if own else f"{mine} claimed_by NOT IN ({live})"
    return f"transport = ? AND handled_at IS NULL AND (claimed_by IS NULL OR {held})"


async def claim_unhandled(
    db: Database,
    transport: str,
    holder: str,
    now: datetime,
    dead_after: timedelta,
    *,
    own: bool = False,
    by_arrival: bool = False,
) -> list[Pending]:
    """Take over the updates stored but not handled whose holder is gone (see the module's
    doc), in one statement, and return them oldest first: by update_id (Telegram numbers
    them in order), or `by_arrival` (Slack's and Teams' ids are hashes). `own`: at start,
    this instance's previous life's too. Reads first, so a look that finds nothing commits
    nothing (it runs on every beat)."""
    where = _claimable(own)
    params = (transport, holder, to_db_time(now - dead_after))
    if await db.fetchone(f"SELECT 1 FROM inbox WHERE {where} LIMIT 1", params) is None:
        return []
    async with db.write() as tx:
        if tx.several_instances:  # claims in turn: this statement sees the others' claims
            await tx.execute("SELECT pg_advisory_xact_lock(?)", (INBOX_CLAIMS_LOCK,))
        rows = await tx.fetchall(
            f"UPDATE inbox SET claimed_by = ? WHERE {where}"
            " RETURNING update_id, payload, applied_at, received_at",
            (holder, *params),
        )
    taken = [_pending(r) for r in rows]
    if by_arrival:
        return sorted(taken, key=lambda p: (p.received_at, p.update_id))
    return sorted(taken, key=lambda p: p.update_id)


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
