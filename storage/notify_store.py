"""SQL for alerts beyond chat: notification rules, the later methods of an alert (follow-ups),
the ACK codes a text carries, and the texts received back (each processed once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Reader, Row, Tx, from_db_time, from_db_time_set, to_db_time

Chain = tuple[tuple[str, timedelta], ...]  # (method, after the alert), in order


# ---- notification rules ------------------------------------------------------------------


def staff_scope(staff_id: str) -> str:
    return f"staff:{staff_id}"


def role_scope(role: str) -> str:
    return f"role:{role}"


async def set_rule(tx: Tx, scope: str, urgency: str, chain: Chain, by: str, now: datetime) -> None:
    stored = json.dumps([[method, int(after.total_seconds())] for method, after in chain])
    await tx.execute(
        "INSERT INTO notification_rules (scope, urgency, chain, set_by, set_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(scope, urgency) DO UPDATE SET"
        " chain = excluded.chain, set_by = excluded.set_by, set_at = excluded.set_at",
        (scope, urgency, stored, by, to_db_time(now)),
    )


async def clear_rule(tx: Tx, scope: str, urgency: str) -> bool:
    cursor = await tx.execute(
        "DELETE FROM notification_rules WHERE scope = ? AND urgency = ?", (scope, urgency)
    )
    return cursor.rowcount > 0


async def get_rule(r: Reader, scope: str, urgency: str) -> Chain | None:
    row = await r.fetchone(
        "SELECT chain FROM notification_rules WHERE scope = ? AND urgency = ?", (scope, urgency)
    )
    if row is None:
        return None
    return tuple((str(m), timedelta(seconds=int(s))) for m, s in json.loads(row["chain"]))


# ---- follow-ups: the later methods of one alert to one person ----------------------------


@dataclass(frozen=True)
class FollowUp:
    id: int
    idem_key: str
    escalation_id: int
    cycle: int
    alert_key: str
    staff_id: str
    method: str
    urgent: bool
    due_at: datetime
    state: str
    created_at: datetime


def _follow_up(row: Row) -> FollowUp:
    return FollowUp(
        row["id"],
        row["idem_key"],
        row["escalation_id"],
        row["cycle"],
        row["alert_key"],
        row["staff_id"],
        row["method"],
        bool(row["urgent"]),
        from_db_time_set(row["due_at"]),
        row["state"],
        from_db_time_set(row["created_at"]),
    )


async def add_follow_up(
    tx: Tx,
    *,
    idem_key: str,
    escalation_id: int,
    cycle: int,
    alert_key: str,
    staff_id: str,
    method: str,
    urgent: bool,
    due_at: datetime,
    now: datetime,
) -> bool:
    """Once per key (one per climb cycle, person and method): False if it was already there."""
    cursor = await tx.execute(
        "INSERT INTO alert_followups (idem_key, escalation_id, cycle, alert_key, staff_id,"
        " method, urgent, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(idem_key) DO NOTHING",
        (
            idem_key,
            escalation_id,
            cycle,
            alert_key,
            staff_id,
            method,
            int(urgent),
            to_db_time(due_at),
            to_db_time(now),
        ),
    )
    return cursor.rowcount == 1


async def due_follow_ups(r: Reader, now: datetime, limit: int) -> list[FollowUp]:
    rows = await r.fetchall(
        "SELECT * FROM alert_followups WHERE state = 'waiting' AND due_at <= ?"
        " ORDER BY due_at, id LIMIT ?",
        (to_db_time(now), limit),
    )
    return [_follow_up(row) for row in rows]


async def get_follow_up(r: Reader, follow_up_id: int) -> FollowUp | None:
    row = await r.fetchone("SELECT * FROM alert_followups WHERE id = ?", (follow_up_id,))
    return _follow_up(row) if row else None


async def follow_up_by_key(r: Reader, idem_key: str) -> FollowUp | None:
    row = await r.fetchone("SELECT * FROM alert_followups WHERE idem_key = ?", (idem_key,))
    return _follow_up(row) if row else None


async def settle_follow_up(tx: Tx, follow_up_id: int, state: str) -> None:
    """'queued' (its message is in the outbox) or 'dropped' (taken first, or no way to send)."""
    await tx.execute(
        "UPDATE alert_followups SET state = ? WHERE id = ? AND state = 'waiting'",
        (state, follow_up_id),
    )


async def next_follow_up_due(r: Reader) -> datetime | None:
    row = await r.fetchone("SELECT MIN(due_at) AS t FROM alert_followups WHERE state = 'waiting'")
    return from_db_time(row["t"]) if row else None


# ---- ACK codes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AckCode:
    staff_id: str
    escalation_id: int
    cycle: int
    code: str
    created_at: datetime
    used_at: datetime | None


def _ack(row: Row) -> AckCode:
    return AckCode(
        row["staff_id"],
        row["escalation_id"],
        row["cycle"],
        row["code"],
        from_db_time_set(row["created_at"]),
        from_db_time(row["used_at"]),
    )


async def ack_code_for(r: Reader, staff_id: str, escalation_id: int, cycle: int) -> AckCode | None:
    row = await r.fetchone(
        "SELECT * FROM ack_codes WHERE staff_id = ? AND escalation_id = ? AND cycle = ?",
        (staff_id, escalation_id, cycle),
    )
    return _ack(row) if row else None


async def codes_in_use(r: Reader, staff_id: str, since: datetime) -> set[str]:
    """The person's codes made since `since`: a new one is none of these."""
    rows = await r.fetchall(
        "SELECT code FROM ack_codes WHERE staff_id = ? AND created_at >= ?",
        (staff_id, to_db_time(since)),
    )
    return {str(row["code"]) for row in rows}


async def add_ack_code(
    tx: Tx, staff_id: str, escalation_id: int, cycle: int, code: str, now: datetime
) -> AckCode:
    await tx.execute(
        "INSERT INTO ack_codes (staff_id, escalation_id, cycle, code, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(staff_id, escalation_id, cycle) DO NOTHING",
        (staff_id, escalation_id, cycle, code, to_db_time(now)),
    )
    found = await ack_code_for(tx, staff_id, escalation_id, cycle)
    assert found is not None
    return found


async def find_ack_code(r: Reader, staff_id: str, code: str) -> AckCode | None:
    """The person's most recent alert with this code (used or not)."""
    row = await r.fetchone(
        "SELECT * FROM ack_codes WHERE staff_id = ? AND code = ? ORDER BY created_at DESC LIMIT 1",
        (staff_id, code),
    )
    return _ack(row) if row else None


async def use_ack_code(tx: Tx, code: AckCode, now: datetime) -> bool:
    cursor = await tx.execute(
        "UPDATE ack_codes SET used_at = ? WHERE staff_id = ? AND escalation_id = ? AND cycle = ?"
        " AND used_at IS NULL",
        (to_db_time(now), code.staff_id, code.escalation_id, code.cycle),
    )
    return cursor.rowcount == 1


# ---- received texts -------------------------------------------------------------------------


async def was_received(r: Reader, text_id: str) -> bool:
    row = await r.fetchone("SELECT 1 FROM received_texts WHERE id = ?", (text_id,))
    return row is not None


async def mark_received(
    tx: Tx, text_id: str, received_at: datetime, outcome: str, now: datetime
) -> bool:
    """Record a received text as processed; False if it already was (then do nothing)."""
    cursor = await tx.execute(
        "INSERT INTO received_texts (id, received_at, processed_at, outcome) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(id) DO NOTHING",
        (text_id, to_db_time(received_at), to_db_time(now), outcome),
    )
    return cursor.rowcount == 1
