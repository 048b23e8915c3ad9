"""SQL for the managers' view: scheduled runs, subscriptions, attachments."""

from __future__ import annotations

from datetime import datetime

from storage.db import Reader, Tx, to_db_time
from storage.models import Attachment

SUBSCRIPTION_KINDS = ("daily", "weekly")


# ---- runs: once per job and local date ----------------------------------------------------


async def claim_run(tx: Tx, job: str, run_key: str, now: datetime) -> bool:
    """True if this run is ours to do; False if it already ran (before a restart, say)."""
    cursor = await tx.execute(
        "INSERT INTO scheduled_runs (job, run_key, ran_at) VALUES (?, ?, ?)"
        " ON CONFLICT(job, run_key) DO NOTHING",
        (job, run_key, to_db_time(now)),
    )
    return cursor.rowcount == 1


async def has_run(r: Reader, job: str, run_key: str) -> bool:
    row = await r.fetchone(
        "SELECT 1 FROM scheduled_runs WHERE job = ? AND run_key = ?", (job, run_key)
    )
    return row is not None


async def runs_of(r: Reader, job: str) -> list[str]:
    rows = await r.fetchall(
        "SELECT run_key FROM scheduled_runs WHERE job = ? ORDER BY run_key", (job,)
    )
    return [row["run_key"] for row in rows]


# ---- subscriptions --------------------------------------------------------------------------


async def subscribe(tx: Tx, staff_id: str, kind: str) -> bool:
    cursor = await tx.execute(
        "INSERT INTO subscriptions (staff_id, kind) VALUES (?, ?)"
        " ON CONFLICT(staff_id, kind) DO NOTHING",
        (staff_id, kind),
    )
    return cursor.rowcount == 1


async def unsubscribe(tx: Tx, staff_id: str, kind: str) -> bool:
    cursor = await tx.execute(
        "DELETE FROM subscriptions WHERE staff_id = ? AND kind = ?", (staff_id, kind)
    )
    return cursor.rowcount == 1


async def subscribers(r: Reader, kind: str) -> list[str]:
    rows = await r.fetchall(
        "SELECT s.staff_id FROM subscriptions s JOIN staff f ON f.id = s.staff_id"
        " WHERE s.kind = ? AND f.active = 1 ORDER BY s.staff_id",
        (kind,),
    )
    return [row["staff_id"] for row in rows]


# ---- attachments -----------------------------------------------------------------------------


async def add_attachment(tx: Tx, filename: str, mime: str, data: bytes, now: datetime) -> int:
    return await tx.insert(
        "INSERT INTO attachments (filename, mime, data, created_at) VALUES (?, ?, ?, ?)",
        (filename, mime, data, to_db_time(now)),
    )


async def get_attachment(r: Reader, attachment_id: int) -> Attachment | None:
    row = await r.fetchone("SELECT * FROM attachments WHERE id = ?", (attachment_id,))
    if row is None:
        return None
    return Attachment(row["id"], row["filename"], row["mime"], bytes(row["data"]))
