"""SQL for instances sharing one database, and the leases that make one of them a singleton.

An instance writes its heartbeat every few seconds; one whose heartbeat is older than the
staleness the caller gives has died. A lease is held by one instance until `expires_at`; the
holder renews it, and anyone may take it once it has expired. Plain upserts with `?` and text
UTC times, so the same statements run on SQLite and PostgreSQL: the conditional
`ON CONFLICT … DO UPDATE … WHERE` is decided on the row as it is when the statement runs
(PostgreSQL locks it), so of two instances taking an expired lease at once, one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Reader, Tx, from_db_time_set, to_db_time


@dataclass(frozen=True)
class Instance:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str | None  # None: let go by its last holder as it stopped
    taken_at: datetime
    expires_at: datetime


async def beat(tx: Tx, instance_id: str, host: str, pid: int, now: datetime) -> None:
    """Register the instance, or renew its heartbeat (an upsert: a row pruned as dead while
    this instance was stalled comes back)."""
    await tx.execute(
        "INSERT INTO instances (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        (instance_id, host, pid, to_db_time(now), to_db_time(now)),
    )


async def forget(tx: Tx, instance_id: str) -> None:
    """A clean stop: the instance and its leases go (let go, not expired: no takeover told)."""
    await tx.execute("DELETE FROM instances WHERE id = ?", (instance_id,))
    await tx.execute("UPDATE leases SET holder = NULL WHERE holder = ?", (instance_id,))


async def forget_all(tx: Tx) -> int:
    """Every instance recorded is dead: the SQLite file's lock proves no other process runs
    (a restart after a crash). They are forgotten and their leases let go, so the restarted
    bot takes its singletons at once; nobody is told of a takeover."""
    await tx.execute("UPDATE leases SET holder = NULL")
    return (await tx.execute("DELETE FROM instances")).rowcount


async def instances(r: Reader) -> list[Instance]:
    rows = await r.fetchall("SELECT * FROM instances ORDER BY started_at, id")
    return [
        Instance(
            row["id"],
            row["host"],
            row["pid"],
            from_db_time_set(row["started_at"]),
            from_db_time_set(row["heartbeat_at"]),
        )
        for row in rows
    ]


async def prune(tx: Tx, before: datetime) -> int:
    """Forget instances whose heartbeat stopped before `before` (long dead)."""
    cursor = await tx.execute("DELETE FROM instances WHERE heartbeat_at < ?", (to_db_time(before),))
    return cursor.rowcount


async def get_lease(r: Reader, name: str) -> Lease | None:
    row = await r.fetchone("SELECT * FROM leases WHERE name = ?", (name,))
    if row is None:
        return None
    return Lease(
        row["name"],
        row["holder"],
        from_db_time_set(row["taken_at"]),
        from_db_time_set(row["expires_at"]),
    )


async def leases(r: Reader) -> list[Lease]:
    rows = await r.fetchall("SELECT name FROM leases ORDER BY name")
    found = [await get_lease(r, row["name"]) for row in rows]
    return [lease for lease in found if lease is not None]


async def hold(
    tx: Tx, name: str, holder: str, now: datetime, until: datetime
) -> tuple[bool, Lease | None]:
    """Take or renew the lease: ours if nobody holds it, its holder let go, it has expired,
    or we hold it already. Returns (held now, the lease as it was before)."""
    before = await get_lease(tx, name)
    cursor = await tx.execute(
        "INSERT INTO leases (name, holder, taken_at, expires_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
        " taken_at = CASE WHEN leases.holder = excluded.holder THEN leases.taken_at"
        " ELSE excluded.taken_at END, expires_at = excluded.expires_at"
        " WHERE leases.holder IS NULL OR leases.holder = excluded.holder"
        " OR leases.expires_at <= ?",
        (name, holder, to_db_time(now), to_db_time(until), to_db_time(now)),
    )
    return cursor.rowcount == 1, before


async def let_go(tx: Tx, name: str, holder: str) -> None:
    await tx.execute(
        "UPDATE leases SET holder = NULL WHERE name = ? AND holder = ?", (name, holder)
    )
