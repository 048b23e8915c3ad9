"""SQL for the rota: who holds a role (out of hours, the missing coordinator ...) when."""

from __future__ import annotations

from datetime import datetime

from storage.db import Reader, Tx, to_db_time


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
