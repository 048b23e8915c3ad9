"""SQL for staff and their chat identities (one row per platform a person is enrolled on)."""

from __future__ import annotations

from datetime import datetime

from storage.db import Reader, Row, Tx, to_db_time
from storage.models import Role, Staff


def _staff(row: Row) -> Staff:
    return Staff(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        home=row["home"],
        team=row["team"],
        manager_id=row["manager_id"],
        active=bool(row["active"]),
    )


async def upsert_staff(tx: Tx, staff: Staff) -> None:
    await tx.execute(
        "INSERT INTO staff (id, name, role, home, team, manager_id, active)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET name=excluded.name, role=excluded.role,"
        " home=excluded.home, team=excluded.team, manager_id=excluded.manager_id,"
        " active=excluded.active",
        (
            staff.id,
            staff.name,
            staff.role.value,
            staff.home,
            staff.team,
            staff.manager_id,
            int(staff.active),
        ),
    )


async def get_staff(r: Reader, staff_id: str) -> Staff | None:
    row = await r.fetchone("SELECT * FROM staff WHERE id = ?", (staff_id,))
    return _staff(row) if row else None


async def list_staff(r: Reader) -> list[Staff]:
    return [_staff(row) for row in await r.fetchall("SELECT * FROM staff ORDER BY role, id")]


async def staff_with_role(r: Reader, role: Role) -> list[Staff]:
    rows = await r.fetchall(
        "SELECT * FROM staff WHERE role = ? AND active = 1 ORDER BY id", (role.value,)
    )
    return [_staff(row) for row in rows]


# ---- identities -----------------------------------------------------------------


async def staff_by_identity(r: Reader, transport: str, external_id: str) -> Staff | None:
    row = await r.fetchone(
        "SELECT s.* FROM staff s JOIN staff_identities i ON i.staff_id = s.id"
        " WHERE i.transport = ? AND i.external_id = ? AND s.active = 1",
        (transport, external_id),
    )
    return _staff(row) if row else None


async def bind_identity(tx: Tx, transport: str, external_id: str, staff_id: str) -> None:
    await tx.execute(
        "INSERT INTO staff_identities (transport, external_id, staff_id) VALUES (?, ?, ?)"
        " ON CONFLICT(transport, external_id) DO UPDATE SET staff_id = excluded.staff_id",
        (transport, external_id, staff_id),
    )


async def reachable_identities(r: Reader, staff_id: str) -> dict[str, str]:
    """transport -> external id, for identities that have not blocked the bot."""
    rows = await r.fetchall(
        "SELECT transport, external_id FROM staff_identities"
        " WHERE staff_id = ? AND blocked_at IS NULL",
        (staff_id,),
    )
    return {row["transport"]: row["external_id"] for row in rows}


async def mark_blocked(tx: Tx, transport: str, external_id: str, now: datetime) -> None:
    await tx.execute(
        "UPDATE staff_identities SET blocked_at = ? WHERE transport = ? AND external_id = ?",
        (to_db_time(now), transport, external_id),
    )


async def clear_blocked(tx: Tx, transport: str, external_id: str) -> None:
    await tx.execute(
        "UPDATE staff_identities SET blocked_at = NULL WHERE transport = ? AND external_id = ?",
        (transport, external_id),
    )
