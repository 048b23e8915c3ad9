"""Queries for the rota and escalation climbs (timers are rows; the database is the truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Row, Tx, from_db_time, to_db_time
from storage.repo import Reader, StaleWrite
from storage.snapshot import STEPS, ClimbContext, ClimbStep

LIVE_STATES = ("active", "acked", "confirming")


# ---- rota ---------------------------------------------------------------------


async def add_rota(tx: Tx, role: str, staff_id: str, starts_at: datetime, ends_at: datetime) -> int:
    return await tx.insert(
        "INSERT INTO rota (role, staff_id, starts_at, ends_at) VALUES (?, ?, ?, ?)",
        (role, staff_id, to_db_time(starts_at), to_db_time(ends_at)),
    )


async def on_rota(r: Reader, role: str, at: datetime) -> list[str]:
    """Staff ids holding `role` at instant `at`."""
    when = to_db_time(at)
    rows = await r.fetchall(
        "SELECT staff_id FROM rota WHERE role = ? AND starts_at <= ? AND ends_at > ?"
        " ORDER BY starts_at, id",
        (role, when, when),
    )
    return list(dict.fromkeys(row["staff_id"] for row in rows))


# ---- escalations ----------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    id: int
    episode_id: int
    child_id: int
    ladder: str
    rule_id: str
    needs_ack: bool
    context: ClimbContext
    steps: tuple[ClimbStep, ...]
    step: int
    repeat: int
    state: str
    next_at: datetime | None
    started_at: datetime
    acked_by: str | None
    acked_at: datetime | None
    version: int
    cycle: int = 0


def _escalation(row: Row) -> Escalation:
    started = from_db_time(row["started_at"])
    assert started is not None
    return Escalation(
        id=row["id"],
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        ladder=row["ladder"],
        rule_id=row["rule_id"],
        needs_ack=bool(row["needs_ack"]),
        context=ClimbContext.model_validate_json(row["context_json"]),
        steps=STEPS.validate_json(row["steps_json"]),
        step=row["step"],
        repeat=row["repeat"],
        state=row["state"],
        next_at=from_db_time(row["next_at"]),
        started_at=started,
        acked_by=row["acked_by"],
        acked_at=from_db_time(row["acked_at"]),
        version=row["version"],
        cycle=row["cycle"],
    )


async def insert_escalation(
    tx: Tx,
    *,
    episode_id: int,
    child_id: int,
    ladder: str,
    rule_id: str,
    needs_ack: bool,
    context: ClimbContext,
    steps: tuple[ClimbStep, ...],
    next_at: datetime,
    started_at: datetime,
) -> int:
    return await tx.insert(
        "INSERT INTO escalations (episode_id, child_id, ladder, rule_id, needs_ack, context_json,"
        " steps_json, state, next_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
        (
            episode_id,
            child_id,
            ladder,
            rule_id,
            int(needs_ack),
            json.dumps(context.model_dump(mode="json")),
            json.dumps(STEPS.dump_python(steps, mode="json")),
            to_db_time(next_at),
            to_db_time(started_at),
        ),
    )


async def get_escalation(r: Reader, escalation_id: int) -> Escalation | None:
    row = await r.fetchone("SELECT * FROM escalations WHERE id = ?", (escalation_id,))
    return _escalation(row) if row else None


async def live_escalations(r: Reader, episode_id: int) -> list[Escalation]:
    rows = await r.fetchall(
        "SELECT * FROM escalations WHERE episode_id = ? AND state IN ('active', 'acked', 'confirming')"
        " ORDER BY id",
        (episode_id,),
    )
    return [_escalation(row) for row in rows]


async def escalations_for_episode(r: Reader, episode_id: int) -> list[Escalation]:
    rows = await r.fetchall(
        "SELECT * FROM escalations WHERE episode_id = ? ORDER BY id", (episode_id,)
    )
    return [_escalation(row) for row in rows]


async def due_escalations(r: Reader, now: datetime, limit: int) -> list[Escalation]:
    rows = await r.fetchall(
        "SELECT * FROM escalations WHERE next_at IS NOT NULL AND next_at <= ?"
        " ORDER BY next_at, id LIMIT ?",
        (to_db_time(now), limit),
    )
    return [_escalation(row) for row in rows]


async def next_escalation_due(r: Reader) -> datetime | None:
    row = await r.fetchone("SELECT MIN(next_at) AS t FROM escalations WHERE next_at IS NOT NULL")
    return from_db_time(row["t"]) if row else None


async def update_escalation(tx: Tx, esc: Escalation, **changes: Any) -> Escalation:
    """Move a climb on, if nobody else moved it since it was read (else StaleWrite)."""
    allowed = {"step", "repeat", "state", "next_at", "acked_by", "acked_at", "cycle"}
    if set(changes) - allowed:
        raise ValueError(f"not escalation columns: {sorted(set(changes) - allowed)}")
    values = [to_db_time(v) if isinstance(v, datetime) else v for v in changes.values()]
    assignments = ", ".join(f"{name} = ?" for name in changes)
    cursor = await tx.execute(
        f"UPDATE escalations SET {assignments}, version = version + 1 WHERE id = ? AND version = ?",
        (*values, esc.id, esc.version),
    )
    if cursor.rowcount != 1:
        raise StaleWrite(f"escalation {esc.id} changed while it was being updated")
    fresh = await get_escalation(tx, esc.id)
    assert fresh is not None
    return fresh


async def recipients_told(r: Reader, episode_id: int) -> list[str]:
    """Everyone the bot has queued a message to about this episode (RET-TELL)."""
    rows = await r.fetchall(
        "SELECT DISTINCT recipient FROM outbox WHERE episode_id = ? ORDER BY recipient",
        (episode_id,),
    )
    return [row["recipient"] for row in rows]


async def last_event_at(r: Reader, episode_id: int, kinds: tuple[str, ...]) -> datetime | None:
    marks = ", ".join("?" for _ in kinds)
    row = await r.fetchone(
        f"SELECT MAX(recorded_at) AS t FROM events WHERE episode_id = ? AND kind IN ({marks})",
        (episode_id, *kinds),
    )
    return from_db_time(row["t"]) if row else None


async def next_outbox_due(r: Reader) -> datetime | None:
    row = await r.fetchone("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE state = 'pending'")
    return from_db_time(row["t"]) if row else None
