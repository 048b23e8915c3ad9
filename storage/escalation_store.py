"""SQL for escalation climbs. A climb's timer is its row's next_at: the database is the truth."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Reader, Row, Tx, from_db_time, from_db_time_set, to_db_time
from storage.models import Escalation, EscalationState, Recipient
from storage.snapshot import STEPS, ClimbContext, ClimbStep
from storage.versioned import update_versioned

# SQL for "the climb is still under way"; the same list as the escalations_one_live index.
_LIVE = ", ".join(f"'{state}'" for state in EscalationState.live())


def _escalation(row: Row) -> Escalation:
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
        state=EscalationState(row["state"]),
        next_at=from_db_time(row["next_at"]),
        started_at=from_db_time_set(row["started_at"]),
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
        " steps_json, state, next_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            episode_id,
            child_id,
            ladder,
            rule_id,
            int(needs_ack),
            json.dumps(context.model_dump(mode="json")),
            json.dumps(STEPS.dump_python(steps, mode="json")),
            EscalationState.ACTIVE.value,
            to_db_time(next_at),
            to_db_time(started_at),
        ),
    )


async def get_escalation(r: Reader, escalation_id: int) -> Escalation | None:
    row = await r.fetchone("SELECT * FROM escalations WHERE id = ?", (escalation_id,))
    return _escalation(row) if row else None


async def live_escalations(r: Reader, episode_id: int) -> list[Escalation]:
    rows = await r.fetchall(
        f"SELECT * FROM escalations WHERE episode_id = ? AND state IN ({_LIVE}) ORDER BY id",
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


async def escalations_waiting(r: Reader) -> list[Escalation]:
    """Every climb with a timer set, the soonest first."""
    rows = await r.fetchall(
        "SELECT * FROM escalations WHERE next_at IS NOT NULL ORDER BY next_at, id"
    )
    return [_escalation(row) for row in rows]


async def next_escalation_due(r: Reader) -> datetime | None:
    row = await r.fetchone("SELECT MIN(next_at) AS t FROM escalations WHERE next_at IS NOT NULL")
    return from_db_time(row["t"]) if row else None


_ESCALATION_COLUMNS = frozenset(
    {"step", "repeat", "state", "next_at", "acked_by", "acked_at", "cycle"}
)


async def update_escalation(tx: Tx, esc: Escalation, **changes: Any) -> Escalation:
    """Move a climb on, if nobody else moved it since it was read (else StaleWrite)."""
    row = await update_versioned(
        tx, "escalations", "escalation", _ESCALATION_COLUMNS, esc.id, esc.version, changes
    )
    return _escalation(row)


async def live_escalations_of(r: Reader, staff_id: str) -> list[Escalation]:
    """Live climbs this person holds (acknowledged by them) or has been sent a step of."""
    rows = await r.fetchall(
        f"SELECT * FROM escalations WHERE state IN ({_LIVE})"
        " AND (acked_by = ? OR id IN (SELECT escalation_id FROM outbox"
        " WHERE recipient = ? AND escalation_repeat IS NOT NULL)) ORDER BY id",
        (staff_id, Recipient.staff(staff_id).stored),
    )
    return [_escalation(row) for row in rows]


async def climb_step_recipients(r: Reader, escalation_id: int, step: int, repeat: int) -> set[str]:
    """Who one send of a climb (step, repeat) went to, in stored recipient form."""
    rows = await r.fetchall(
        "SELECT DISTINCT recipient FROM outbox WHERE escalation_id = ?"
        " AND escalation_step = ? AND escalation_repeat = ?",
        (escalation_id, step, repeat),
    )
    return {row["recipient"] for row in rows}
