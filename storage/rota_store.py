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


async def remove_future_shifts(
    tx: Tx, staff_id: str, after: datetime
) -> list[tuple[str, datetime, datetime]]:
    """Someone leaving: their shifts from `after` on go (one under way ends at `after`).
    Returns each removed span (role, from, to), in time order."""
    from storage.db import from_db_time_set

    when = to_db_time(after)
    rows = await tx.fetchall(
        "SELECT role, starts_at, ends_at FROM rota WHERE staff_id = ? AND ends_at > ?"
        " ORDER BY starts_at, id",
        (staff_id, when),
    )
    await tx.execute("DELETE FROM rota WHERE staff_id = ? AND starts_at >= ?", (staff_id, when))
    await tx.execute(
        "UPDATE rota SET ends_at = ? WHERE staff_id = ? AND starts_at < ? AND ends_at > ?",
        (when, staff_id, when, when),
    )
    return [
        (row["role"], max(from_db_time_set(row["starts_at"]), after),
         from_db_time_set(row["ends_at"]))
        for row in rows
    ]  # fmt: skip
