"""SQL for how a person is reached beyond chat: their verified numbers and addresses.

A person's own number or address (`/contact`) is used once they have typed back the code
sent to it; the team file's `phone` and `email` (an admin's import) count as verified. A
person's own verified one is used before the team file's. Staff who have left have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from config.addresses import AddressError, normalise_email, normalise_phone
from storage.db import Database, Reader, Tx, from_db_time_set, to_db_time, write_alone


class Method(StrEnum):
    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True)
class ContactMethod:
    method: Method
    address: str
    source: str  # "yours" (verified by code) or "team file"


@dataclass(frozen=True)
class Pending:
    method: Method
    address: str
    code_hash: str
    expires_at: datetime
    attempts: int


def _team_file(method: Method, raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalise_phone(raw) if method is Method.SMS else normalise_email(raw)
    except AddressError:
        return None  # the import checked its shape; a landline cannot take a text


async def methods_of(r: Reader, staff_id: str) -> list[ContactMethod]:
    """The person's usable methods beyond chat, one per kind (theirs before the team file's);
    none for someone who has left."""
    staff = await r.fetchone("SELECT active, phone, email FROM staff WHERE id = ?", (staff_id,))
    if staff is None or not staff["active"]:
        return []
    own = {
        Method(row["method"]): row["address"]
        for row in await r.fetchall(
            "SELECT method, address FROM contact_methods WHERE staff_id = ?", (staff_id,)
        )
    }
    found = []
    for method, column in ((Method.SMS, "phone"), (Method.EMAIL, "email")):
        if method in own:
            found.append(ContactMethod(method, own[method], "yours"))
        elif (imported := _team_file(method, staff[column])) is not None:
            found.append(ContactMethod(method, imported, "team file"))
    return found


async def address(r: Reader, staff_id: str, method: Method) -> str | None:
    """Where a text or e-mail to this person goes; None: nowhere verified (or they left)."""
    for found in await methods_of(r, staff_id):
        if found.method is method:
            return found.address
    return None


async def staff_by_phone(r: Reader, number: str) -> str | None:
    """Who a received text is from: the active person whose verified mobile it is."""
    row = await r.fetchone(
        "SELECT c.staff_id FROM contact_methods c JOIN staff s ON s.id = c.staff_id"
        " WHERE c.method = 'sms' AND c.address = ? AND s.active = 1 ORDER BY c.staff_id LIMIT 1",
        (number,),
    )
    if row is not None:
        return str(row["staff_id"])
    rows = await r.fetchall(
        "SELECT id, phone FROM staff WHERE active = 1 AND phone IS NOT NULL AND phone != ''"
        " AND id NOT IN (SELECT staff_id FROM contact_methods WHERE method = 'sms') ORDER BY id"
    )
    for staff in rows:
        if _team_file(Method.SMS, staff["phone"]) == number:
            return str(staff["id"])
    return None


# ---- verification -----------------------------------------------------------------------


async def start_verification(
    tx: Tx,
    staff_id: str,
    method: Method,
    address: str,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """A new number or address waits for its code; one pending per kind (a new one replaces it)."""
    await tx.execute(
        "INSERT INTO contact_pending (staff_id, method, address, code_hash, created_at,"
        " expires_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT(staff_id, method)"
        " DO UPDATE SET address = excluded.address, code_hash = excluded.code_hash,"
        " created_at = excluded.created_at, expires_at = excluded.expires_at, attempts = 0",
        (staff_id, method, address, code_hash, to_db_time(now), to_db_time(expires_at)),
    )


async def pending_of(r: Reader, staff_id: str) -> list[Pending]:
    rows = await r.fetchall(
        "SELECT * FROM contact_pending WHERE staff_id = ? ORDER BY method", (staff_id,)
    )
    return [
        Pending(
            Method(row["method"]),
            row["address"],
            row["code_hash"],
            from_db_time_set(row["expires_at"]),
            row["attempts"],
        )
        for row in rows
    ]


async def count_attempt(tx: Tx, staff_id: str, method: Method) -> None:
    await tx.execute(
        "UPDATE contact_pending SET attempts = attempts + 1 WHERE staff_id = ? AND method = ?",
        (staff_id, method),
    )


async def drop_pending(tx: Tx, staff_id: str, method: Method) -> None:
    await tx.execute(
        "DELETE FROM contact_pending WHERE staff_id = ? AND method = ?", (staff_id, method)
    )


async def verify(tx: Tx, staff_id: str, method: Method, address: str, now: datetime) -> None:
    """The code came back: this number or address is theirs and is used from now on."""
    await tx.execute(
        "INSERT INTO contact_methods (staff_id, method, address, verified_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(staff_id, method) DO UPDATE SET address = excluded.address,"
        " verified_at = excluded.verified_at",
        (staff_id, method, address, to_db_time(now)),
    )
    await drop_pending(tx, staff_id, method)


async def remove(tx: Tx, staff_id: str, method: Method) -> bool:
    """The person's own number or address is no longer used (the team file's still is)."""
    cursor = await tx.execute(
        "DELETE FROM contact_methods WHERE staff_id = ? AND method = ?", (staff_id, method)
    )
    await drop_pending(tx, staff_id, method)
    return cursor.rowcount > 0


async def pending_address(
    r: Reader, staff_id: str, method: Method, asked_at: datetime, now: datetime
) -> str | None:
    """Where a verification code asked for at `asked_at` goes: the number or address waiting
    for it, while it is still live and not replaced by a newer one."""
    row = await r.fetchone(
        "SELECT address FROM contact_pending WHERE staff_id = ? AND method = ?"
        " AND created_at = ? AND expires_at > ?",
        (staff_id, method, to_db_time(asked_at), to_db_time(now)),
    )
    return str(row["address"]) if row else None


async def blank_sent_code(w: Tx | Database, outbox_id: int, text: str) -> None:
    """Once a code has gone, the outbox keeps its text with the code blanked: only the
    code's hash stays."""
    await write_alone(w, "UPDATE outbox SET text = ? WHERE id = ?", (text, outbox_id))
