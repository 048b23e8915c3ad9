"""SQL for the metrics (bot/metrics.py): counts a scrape reads, each over an index.

Only live states are counted (pending, sending, failed messages; live climbs; open duties
and episodes): what was sent long ago grows with the history and says nothing about now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Reader, from_db_time
from storage.models import EscalationState

OUTBOX_STATES = ("pending", "sending", "failed")


@dataclass(frozen=True)
class Depth:
    state: str
    urgent: bool | None  # None: the outbox has no urgency column (before migration 0021)
    count: int


async def has_urgency(r: Reader) -> bool:
    """Whether the outbox has its `urgent` column (the urgent-first ordering's migration)."""
    try:
        await r.fetchone("SELECT urgent FROM outbox WHERE id = 0")
    except Exception:  # noqa: BLE001 - no such column, on either engine
        return False
    return True


async def outbox_depth(r: Reader, urgency: bool) -> list[Depth]:
    marks = ", ".join("?" for _ in OUTBOX_STATES)
    if urgency:
        rows = await r.fetchall(
            f"SELECT state, urgent, COUNT(*) AS n FROM outbox WHERE state IN ({marks})"
            " GROUP BY state, urgent",
            OUTBOX_STATES,
        )
        return [Depth(row["state"], bool(row["urgent"]), row["n"]) for row in rows]
    rows = await r.fetchall(
        f"SELECT state, COUNT(*) AS n FROM outbox WHERE state IN ({marks}) GROUP BY state",
        OUTBOX_STATES,
    )
    return [Depth(row["state"], None, row["n"]) for row in rows]


async def oldest_pending(r: Reader) -> datetime | None:
    """When the message waiting longest to go was queued."""
    row = await r.fetchone("SELECT MIN(created_at) AS t FROM outbox WHERE state = 'pending'")
    return from_db_time(row["t"]) if row else None


async def open_climbs(r: Reader) -> int:
    live = [s.value for s in EscalationState.live()]
    marks = ", ".join("?" for _ in live)
    row = await r.fetchone(f"SELECT COUNT(*) AS n FROM escalations WHERE state IN ({marks})", live)
    return int(row["n"]) if row else 0


async def open_duties(r: Reader) -> int:
    row = await r.fetchone("SELECT COUNT(*) AS n FROM duties WHERE state = 'open'")
    return int(row["n"]) if row else 0


async def open_episodes(r: Reader) -> int:
    row = await r.fetchone("SELECT COUNT(*) AS n FROM episodes WHERE state = 'open'")
    return int(row["n"]) if row else 0
