"""SQL for the managers' view: scheduled runs, subscriptions, attachments, report queries."""

from __future__ import annotations

from datetime import datetime

from storage.db import Tx, to_db_time
from storage.models import Attachment, Duty, Episode, Event
from storage.repo import Reader, _duty, _episode, _event

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


# ---- report queries ----------------------------------------------------------------------------


async def episodes_overlapping(r: Reader, start: datetime, end: datetime) -> list[Episode]:
    """Episodes that were running at some point in [start, end)."""
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE last_seen_at < ? AND (found_at IS NULL OR found_at >= ?)"
        " ORDER BY last_seen_at, id",
        (to_db_time(end), to_db_time(start)),
    )
    return [_episode(row) for row in rows]


async def episodes_started_between(r: Reader, start: datetime, end: datetime) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE last_seen_at >= ? AND last_seen_at < ?"
        " ORDER BY last_seen_at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [_episode(row) for row in rows]


async def open_episodes(r: Reader) -> list[Episode]:
    rows = await r.fetchall("SELECT * FROM episodes WHERE state = 'open' ORDER BY last_seen_at, id")
    return [_episode(row) for row in rows]


async def found_between(r: Reader, start: datetime, end: datetime) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE found_at >= ? AND found_at < ? ORDER BY found_at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [_episode(row) for row in rows]


async def overdue_duties(r: Reader, now: datetime) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE state = 'open' AND due_at < ?"
        " AND (applies_from IS NULL OR applies_from <= ?) ORDER BY due_at, id",
        (to_db_time(now), to_db_time(now)),
    )
    return [_duty(row) for row in rows]


async def events_between(r: Reader, start: datetime, end: datetime) -> list[Event]:
    rows = await r.fetchall(
        "SELECT * FROM events WHERE at >= ? AND at < ? ORDER BY at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [_event(row) for row in rows]


async def duties_between(r: Reader, start: datetime, end: datetime) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [_duty(row) for row in rows]


async def latest_event_of_kind(r: Reader, child_id: int, kind: str) -> Event | None:
    row = await r.fetchone(
        "SELECT * FROM events WHERE child_id = ? AND kind = ? ORDER BY at DESC, id DESC LIMIT 1",
        (child_id, kind),
    )
    return _event(row) if row else None


async def count_episodes_since(r: Reader, child_id: int, since: datetime) -> int:
    row = await r.fetchone(
        "SELECT COUNT(*) AS n FROM episodes WHERE child_id = ? AND last_seen_at >= ?",
        (child_id, to_db_time(since)),
    )
    return int(row["n"]) if row else 0
