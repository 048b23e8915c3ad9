"""SQL for staff and their chat identities (one row per platform a person is enrolled on)."""

from __future__ import annotations

from datetime import datetime

from storage.db import Reader, Row, Tx, from_db_time, to_db_time
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
        email=row["email"],
        phone=row["phone"],
        left_at=from_db_time(row["left_at"]),
        left_by=row["left_by"],
        left_reason=row["left_reason"],
    )


async def upsert_staff(tx: Tx, staff: Staff) -> None:
    """Insert or update a person's details. Whether they are active is kept as it is for
    someone already here: leaving and coming back are `mark_left` and `reactivate`."""
    await tx.execute(
        "INSERT INTO staff (id, name, role, home, team, manager_id, active, email, phone)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET name=excluded.name, role=excluded.role,"
        " home=excluded.home, team=excluded.team, manager_id=excluded.manager_id,"
        " email=excluded.email, phone=excluded.phone",
        (
            staff.id,
            staff.name,
            staff.role.value,
            staff.home,
            staff.team,
            staff.manager_id,
            int(staff.active),
            staff.email,
            staff.phone,
        ),
    )


async def mark_left(
    tx: Tx, staff_id: str, now: datetime, by: str | None, reason: str | None
) -> bool:
    """Record that an active person has left; False if they had already left (or no such id)."""
    cursor = await tx.execute(
        "UPDATE staff SET active = 0, left_at = ?, left_by = ?, left_reason = ?"
        " WHERE id = ? AND active = 1",
        (to_db_time(now), by, reason, staff_id),
    )
    return cursor.rowcount == 1


async def reactivate(tx: Tx, staff_id: str) -> bool:
    """A leaver back (a team file that says `active: true`); False if they were active."""
    cursor = await tx.execute(
        "UPDATE staff SET active = 1, left_at = NULL, left_by = NULL, left_reason = NULL"
        " WHERE id = ? AND active = 0",
        (staff_id,),
    )
    return cursor.rowcount == 1


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
    """transport -> external id, for identities that have not blocked the bot (none for
    someone who has left)."""
    rows = await r.fetchall(
        "SELECT i.transport, i.external_id FROM staff_identities i"
        " JOIN staff s ON s.id = i.staff_id"
        " WHERE i.staff_id = ? AND i.blocked_at IS NULL AND s.active = 1",
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


async def identities_of(r: Reader, staff_id: str) -> list[tuple[str, str]]:
    """Every chat account bound to this person: (transport, external id), blocked or not."""
    rows = await r.fetchall(
        "SELECT transport, external_id FROM staff_identities WHERE staff_id = ?"
        " ORDER BY transport, external_id",
        (staff_id,),
    )
    return [(row["transport"], row["external_id"]) for row in rows]


async def bound_to(r: Reader, transport: str, external_id: str) -> str | None:
    """The staff id this chat account is bound to, active or not."""
    row = await r.fetchone(
        "SELECT staff_id FROM staff_identities WHERE transport = ? AND external_id = ?",
        (transport, external_id),
    )
    return row["staff_id"] if row else None


async def revoke_identities(tx: Tx, staff_id: str, keep: tuple[str, str] | None = None) -> int:
    """Unbind every chat account of this person (but `keep`, a (transport, id)); how many."""
    if keep is None:
        cursor = await tx.execute("DELETE FROM staff_identities WHERE staff_id = ?", (staff_id,))
    else:
        cursor = await tx.execute(
            "DELETE FROM staff_identities WHERE staff_id = ?"
            " AND NOT (transport = ? AND external_id = ?)",
            (staff_id, *keep),
        )
    return cursor.rowcount


# ---- invites (the table is in 0003_chats; add_device since 0012) ---------------------


async def add_invite(
    tx: Tx, code_hash: str, staff_id: str, now: datetime, expires: datetime, add_device: bool
) -> None:
    await tx.execute(
        "INSERT INTO invites (code_hash, staff_id, created_at, expires_at, add_device)"
        " VALUES (?, ?, ?, ?, ?)",
        (code_hash, staff_id, to_db_time(now), to_db_time(expires), int(add_device)),
    )


async def open_invite(r: Reader, code_hash: str, now: datetime) -> tuple[str, bool] | None:
    """(staff id, add device) of an unused, unexpired invite for someone still here."""
    row = await r.fetchone(
        "SELECT i.staff_id, i.add_device FROM invites i JOIN staff s ON s.id = i.staff_id"
        " WHERE i.code_hash = ? AND i.used_at IS NULL AND i.expires_at > ? AND s.active = 1",
        (code_hash, to_db_time(now)),
    )
    return (row["staff_id"], bool(row["add_device"])) if row else None


async def use_invite(tx: Tx, code_hash: str, now: datetime, used_by: str) -> bool:
    cursor = await tx.execute(
        "UPDATE invites SET used_at = ?, used_by = ? WHERE code_hash = ? AND used_at IS NULL",
        (to_db_time(now), used_by, code_hash),
    )
    return cursor.rowcount == 1


async def staff_emails(r: Reader) -> dict[str, str]:
    """Lower-cased e-mail -> staff id of everyone still here, for matching calendar attendees."""
    rows = await r.fetchall(
        "SELECT id, email FROM staff WHERE email IS NOT NULL AND email != '' AND active = 1"
    )
    return {str(row["email"]).strip().lower(): row["id"] for row in rows}
