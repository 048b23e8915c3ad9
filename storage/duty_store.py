"""SQL for statutory duties: made by episode events, owned by a person, chased on timers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Reader, Row, Tx, from_db_time, from_db_time_set, to_db_time
from storage.models import Duty, DutyState
from storage.versioned import update_versioned


def _duty(row: Row) -> Duty:
    return Duty(
        id=row["id"],
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        rule_id=row["rule_id"],
        due_at=from_db_time_set(row["due_at"]),
        owner_id=row["owner_id"],
        state=DutyState(row["state"]),
        created_at=from_db_time_set(row["created_at"]),
        closed_by=row["closed_by"],
        closed_at=from_db_time(row["closed_at"]),
        note=row["note"],
        owner_role=row["owner_role"],
        action=row["action"],
        spec=json.loads(row["spec_json"] or "{}"),
        next_remind_at=from_db_time(row["next_remind_at"]),
        reminders=row["reminders"],
        overdue_reminders=row["overdue_reminders"],
        manager_told_at=from_db_time(row["manager_told_at"]),
        applies_from=from_db_time(row["applies_from"]),
        version=row["version"],
    )


async def insert_duty(
    tx: Tx,
    *,
    episode_id: int | None,
    child_id: int,
    rule_id: str,
    due_at: datetime,
    owner_id: str | None,
    created_at: datetime,
    owner_role: str | None = None,
    action: str = "",
    spec: dict[str, Any] | None = None,
    next_remind_at: datetime | None = None,
    applies_from: datetime | None = None,
) -> int:
    return await tx.insert(
        "INSERT INTO duties (episode_id, child_id, rule_id, due_at, owner_id, created_at,"
        " owner_role, action, spec_json, next_remind_at, applies_from)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            episode_id,
            child_id,
            rule_id,
            to_db_time(due_at),
            owner_id,
            to_db_time(created_at),
            owner_role,
            action,
            json.dumps(spec or {}),
            to_db_time(next_remind_at) if next_remind_at else None,
            to_db_time(applies_from) if applies_from else None,
        ),
    )


async def get_duty(r: Reader, duty_id: int) -> Duty | None:
    row = await r.fetchone("SELECT * FROM duties WHERE id = ?", (duty_id,))
    return _duty(row) if row else None


async def duties_for_episode(r: Reader, episode_id: int) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE episode_id = ? ORDER BY due_at, id", (episode_id,)
    )
    return [_duty(row) for row in rows]


async def open_duties(r: Reader, owner_id: str | None = None) -> list[Duty]:
    if owner_id is None:
        rows = await r.fetchall("SELECT * FROM duties WHERE state = 'open' ORDER BY due_at, id")
    else:
        rows = await r.fetchall(
            "SELECT * FROM duties WHERE state = 'open' AND owner_id = ? ORDER BY due_at, id",
            (owner_id,),
        )
    return [_duty(row) for row in rows]


async def unowned_open_duties(r: Reader) -> list[Duty]:
    """Open duties nobody owns: reported at once, chased as the manager's until taken."""
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE state = 'open' AND owner_id IS NULL ORDER BY due_at, id"
    )
    return [_duty(row) for row in rows]


async def open_duties_managed_by(r: Reader, manager_id: str) -> list[Duty]:
    """Open duties owned by the people who report to this manager."""
    rows = await r.fetchall(
        "SELECT d.* FROM duties d JOIN staff s ON s.id = d.owner_id"
        " WHERE d.state = 'open' AND s.manager_id = ? ORDER BY d.due_at, d.id",
        (manager_id,),
    )
    return [_duty(row) for row in rows]


async def due_duty_reminders(r: Reader, now: datetime, limit: int) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE next_remind_at IS NOT NULL AND next_remind_at <= ?"
        " ORDER BY next_remind_at, id LIMIT ?",
        (to_db_time(now), limit),
    )
    return [_duty(row) for row in rows]


async def next_duty_reminder(r: Reader) -> datetime | None:
    row = await r.fetchone(
        "SELECT MIN(next_remind_at) AS t FROM duties WHERE next_remind_at IS NOT NULL"
    )
    return from_db_time(row["t"]) if row else None


async def duty_created_since(
    r: Reader, child_id: int, rule_id: str, since: datetime | None
) -> bool:
    row = await r.fetchone(
        "SELECT 1 FROM duties WHERE child_id = ? AND rule_id = ? AND created_at >= ? LIMIT 1",
        (child_id, rule_id, to_db_time(since) if since else "0"),
    )
    return row is not None


_DUTY_COLUMNS = frozenset({
    "state", "owner_id", "closed_by", "closed_at", "note", "next_remind_at", "reminders",
    "overdue_reminders", "manager_told_at", "due_at",
})  # fmt: skip


async def update_duty(tx: Tx, duty: Duty, **changes: Any) -> Duty:
    """Move a duty on, if nobody else did since it was read (else StaleWrite)."""
    row = await update_versioned(
        tx, "duties", "duty", _DUTY_COLUMNS, duty.id, duty.version, changes
    )
    return _duty(row)


# ---- the managers' view ---------------------------------------------------------------------


async def overdue_duties(r: Reader, now: datetime) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE state = 'open' AND due_at < ?"
        " AND (applies_from IS NULL OR applies_from <= ?) ORDER BY due_at, id",
        (to_db_time(now), to_db_time(now)),
    )
    return [_duty(row) for row in rows]


async def duties_between(r: Reader, start: datetime, end: datetime) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [_duty(row) for row in rows]
