"""SQL for the rota: who holds a role (out of hours, the missing coordinator ...) when.

A shift is a row: role, person, from, to, where it came from (import, cli, chat), who made it
and when. An imported shift is known by (source file, import key), so a re-import updates it
in place. A cover has precedence 1 and overrides the scheduled shifts (precedence 0) of its
role for exactly its span. Every change is written to rota_audit by the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from storage.db import Reader, Row, Tx, from_db_time, from_db_time_set, to_db_time

SCHEDULED = 0
COVER = 1
SOURCES = ("import", "cli", "chat")


@dataclass(frozen=True)
class Shift:
    id: int
    role: str
    staff_id: str
    starts_at: datetime
    ends_at: datetime
    source: str = "import"
    precedence: int = SCHEDULED
    source_file: str | None = None
    import_key: str | None = None
    made_by: str | None = None
    made_at: datetime | None = None

    @property
    def is_cover(self) -> bool:
        return self.precedence > SCHEDULED


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str | None
    action: str
    shift_id: int | None
    role: str
    staff_id: str | None
    before_id: str | None
    starts_at: datetime
    ends_at: datetime
    source: str
    note: str


def _shift(row: Row) -> Shift:
    return Shift(
        id=row["id"],
        role=row["role"],
        staff_id=row["staff_id"],
        starts_at=from_db_time_set(row["starts_at"]),
        ends_at=from_db_time_set(row["ends_at"]),
        source=row["source"],
        precedence=row["precedence"],
        source_file=row["source_file"],
        import_key=row["import_key"],
        made_by=row["made_by"],
        made_at=from_db_time(row["made_at"]),
    )


async def add_rota(tx: Tx, role: str, staff_id: str, starts_at: datetime, ends_at: datetime) -> int:
    return await add_shift(tx, role, staff_id, starts_at, ends_at, source="import")


async def add_shift(
    tx: Tx,
    role: str,
    staff_id: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    source: str,
    precedence: int = SCHEDULED,
    made_by: str | None = None,
    made_at: datetime | None = None,
    source_file: str | None = None,
    import_key: str | None = None,
) -> int:
    return await tx.insert(
        "INSERT INTO rota (role, staff_id, starts_at, ends_at, source, precedence, made_by,"
        " made_at, source_file, import_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            role,
            staff_id,
            to_db_time(starts_at),
            to_db_time(ends_at),
            source,
            precedence,
            made_by,
            to_db_time(made_at) if made_at else None,
            source_file,
            import_key,
        ),
    )


async def imported_shift(r: Reader, source_file: str, import_key: str) -> Shift | None:
    row = await r.fetchone(
        "SELECT * FROM rota WHERE source_file = ? AND import_key = ?", (source_file, import_key)
    )
    return _shift(row) if row else None


async def shifts_from_file(r: Reader, source_file: str) -> list[Shift]:
    rows = await r.fetchall(
        "SELECT * FROM rota WHERE source_file = ? ORDER BY starts_at, id", (source_file,)
    )
    return [_shift(row) for row in rows]


async def update_shift(
    tx: Tx, shift_id: int, *, staff_id: str, starts_at: datetime, ends_at: datetime, role: str
) -> None:
    await tx.execute(
        "UPDATE rota SET staff_id = ?, starts_at = ?, ends_at = ?, role = ? WHERE id = ?",
        (staff_id, to_db_time(starts_at), to_db_time(ends_at), role, shift_id),
    )


async def remove_shift(tx: Tx, shift_id: int) -> bool:
    cursor = await tx.execute("DELETE FROM rota WHERE id = ?", (shift_id,))
    return cursor.rowcount == 1


async def get_shift(r: Reader, shift_id: int) -> Shift | None:
    row = await r.fetchone("SELECT * FROM rota WHERE id = ?", (shift_id,))
    return _shift(row) if row else None


async def shifts_between(
    r: Reader,
    start: datetime,
    end: datetime,
    *,
    role: str | None = None,
    staff_id: str | None = None,
) -> list[Shift]:
    """Every shift overlapping [start, end), of the role or person if given, earliest first."""
    sql = "SELECT * FROM rota WHERE starts_at < ? AND ends_at > ?"
    params: list[str] = [to_db_time(end), to_db_time(start)]
    if role is not None:
        sql += " AND role = ?"
        params.append(role)
    if staff_id is not None:
        sql += " AND staff_id = ?"
        params.append(staff_id)
    rows = await r.fetchall(sql + " ORDER BY starts_at, precedence, id", params)
    return [_shift(row) for row in rows]


async def active_shifts_between(
    r: Reader, start: datetime, end: datetime, role: str | None = None
) -> list[Shift]:
    """As shifts_between, only of staff still active (a leaver's shifts count for nothing)."""
    sql = (
        "SELECT r.* FROM rota r JOIN staff s ON s.id = r.staff_id"
        " WHERE r.starts_at < ? AND r.ends_at > ? AND s.active = 1"
    )
    params: list[str] = [to_db_time(end), to_db_time(start)]
    if role is not None:
        sql += " AND r.role = ?"
        params.append(role)
    rows = await r.fetchall(sql + " ORDER BY r.starts_at, r.precedence, r.id", params)
    return [_shift(row) for row in rows]


async def rota_roles(r: Reader) -> list[str]:
    rows = await r.fetchall("SELECT DISTINCT role FROM rota ORDER BY role")
    return [row["role"] for row in rows]


async def on_rota(r: Reader, role: str, at: datetime) -> list[str]:
    """Staff ids holding `role` at instant `at`: a cover in force replaces the scheduled
    people for its span; staff who are not active are never on it."""
    when = to_db_time(at)
    rows = await r.fetchall(
        "SELECT r.staff_id, r.precedence FROM rota r JOIN staff s ON s.id = r.staff_id"
        " WHERE r.role = ? AND r.starts_at <= ? AND r.ends_at > ? AND s.active = 1"
        " ORDER BY r.precedence DESC, r.starts_at, r.id",
        (role, when, when),
    )
    if not rows:
        return []
    top = rows[0]["precedence"]
    return list(dict.fromkeys(row["staff_id"] for row in rows if row["precedence"] == top))


# ---- swaps waiting for an answer ----------------------------------------------------------


@dataclass(frozen=True)
class SwapRequest:
    id: int
    role: str
    asked_by: str
    asked_of: str
    day: str  # local ISO date
    their_day: str | None
    asked_at: datetime
    state: str


async def ask_swap(
    tx: Tx, role: str, asked_by: str, asked_of: str, day: str, their_day: str | None,
    now: datetime,
) -> int:  # fmt: skip
    return await tx.insert(
        "INSERT INTO rota_swaps (role, asked_by, asked_of, day, their_day, asked_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (role, asked_by, asked_of, day, their_day, to_db_time(now)),
    )


async def get_swap(r: Reader, swap_id: int) -> SwapRequest | None:
    row = await r.fetchone("SELECT * FROM rota_swaps WHERE id = ?", (swap_id,))
    if row is None:
        return None
    return SwapRequest(
        row["id"], row["role"], row["asked_by"], row["asked_of"], row["day"], row["their_day"],
        from_db_time_set(row["asked_at"]), row["state"],
    )  # fmt: skip


async def answer_swap(tx: Tx, swap_id: int, state: str, now: datetime) -> bool:
    """True if this answer is the first (a second press, or a typed repeat, changes nothing)."""
    cursor = await tx.execute(
        "UPDATE rota_swaps SET state = ?, answered_at = ? WHERE id = ? AND state = 'asked'",
        (state, to_db_time(now), swap_id),
    )
    return cursor.rowcount == 1


# ---- the audit trail --------------------------------------------------------------------


async def audit(
    tx: Tx,
    *,
    at: datetime,
    actor: str | None,
    action: str,
    shift: Shift,
    before_id: str | None = None,
    removed: bool = False,
    note: str = "",
) -> int:
    return await tx.insert(
        "INSERT INTO rota_audit (at, actor, action, shift_id, role, staff_id, before_id,"
        " starts_at, ends_at, source, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            to_db_time(at),
            actor,
            action,
            shift.id,
            shift.role,
            None if removed else shift.staff_id,
            before_id,
            to_db_time(shift.starts_at),
            to_db_time(shift.ends_at),
            shift.source,
            note,
        ),
    )


async def audit_trail(r: Reader, limit: int = 100) -> list[AuditEntry]:
    rows = await r.fetchall("SELECT * FROM rota_audit ORDER BY id DESC LIMIT ?", (limit,))
    return [
        AuditEntry(
            id=row["id"],
            at=from_db_time_set(row["at"]),
            actor=row["actor"],
            action=row["action"],
            shift_id=row["shift_id"],
            role=row["role"],
            staff_id=row["staff_id"],
            before_id=row["before_id"],
            starts_at=from_db_time_set(row["starts_at"]),
            ends_at=from_db_time_set(row["ends_at"]),
            source=row["source"],
            note=row["note"],
        )
        for row in rows
    ]


async def remove_future_shifts(
    tx: Tx, staff_id: str, after: datetime, actor: str | None = None
) -> list[tuple[str, datetime, datetime]]:
    """Someone leaving: their shifts from `after` on go (one under way ends at `after`), each
    change on the audit trail. Returns each span they no longer hold (role, from, to), in
    time order."""
    when = to_db_time(after)
    rows = await tx.fetchall(
        "SELECT * FROM rota WHERE staff_id = ? AND ends_at > ? ORDER BY starts_at, id",
        (staff_id, when),
    )
    await tx.execute("DELETE FROM rota WHERE staff_id = ? AND starts_at >= ?", (staff_id, when))
    await tx.execute(
        "UPDATE rota SET ends_at = ? WHERE staff_id = ? AND starts_at < ? AND ends_at > ?",
        (when, staff_id, when, when),
    )
    gone = []
    for shift in map(_shift, rows):
        if shift.starts_at < after:  # under way: it ends now rather than going
            kept = replace(shift, ends_at=after)
            await audit(tx, at=after, actor=actor, action="changed", shift=kept, note="left")
        else:
            await audit(
                tx, at=after, actor=actor, action="removed", shift=shift, before_id=staff_id,
                removed=True, note="left",
            )  # fmt: skip
        gone.append((shift.role, max(shift.starts_at, after), shift.ends_at))
    return gone
