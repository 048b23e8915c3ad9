"""SQL for episodes and their append-only timeline (events)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.child_store import CHILD_AS_C, child_from_row
from storage.db import Reader, Row, Tx, from_db_time, from_db_time_set, to_db_time
from storage.models import (
    Category,
    Child,
    Concern,
    EndReason,
    Episode,
    EpisodeState,
    Event,
    PoliceGrade,
    RhiStatus,
)
from storage.versioned import update_versioned


def episode_from_row(row: Row) -> Episode:
    return Episode(
        id=row["id"],
        child_id=row["child_id"],
        area=row["area"],
        state=EpisodeState(row["state"]),
        category=Category(row["category"]),
        concern=Concern(row["concern"]),
        ever_missing=bool(row["ever_missing"]),
        last_seen_at=from_db_time_set(row["last_seen_at"]),
        last_seen_place=row["last_seen_place"],
        reported_by=row["reported_by"],
        reported_at=from_db_time_set(row["reported_at"]),
        police_ref=row["police_ref"],
        police_grade=PoliceGrade(row["police_grade"]) if row["police_grade"] else None,
        police_reported_at=from_db_time(row["police_reported_at"]),
        found_at=from_db_time(row["found_at"]),
        end_reason=EndReason(row["end_reason"]) if row["end_reason"] else None,
        found_where=row["found_where"],
        rhi_status=RhiStatus(row["rhi_status"]) if row["rhi_status"] else None,
        rhi_by=row["rhi_by"],
        finalised_at=from_db_time(row["finalised_at"]),
        finalised_by=row["finalised_by"],
        link_group=row["link_group"],
        version=row["version"],
    )


async def get_episode(r: Reader, episode_id: int) -> Episode | None:
    row = await r.fetchone("SELECT * FROM episodes WHERE id = ?", (episode_id,))
    return episode_from_row(row) if row else None


async def open_episode_for_child(r: Reader, child_id: int) -> Episode | None:
    row = await r.fetchone(
        "SELECT * FROM episodes WHERE child_id = ? AND state = 'open'", (child_id,)
    )
    return episode_from_row(row) if row else None


async def latest_episode_for_child(r: Reader, child_id: int) -> Episode | None:
    row = await r.fetchone(
        "SELECT * FROM episodes WHERE child_id = ? ORDER BY last_seen_at DESC, id DESC LIMIT 1",
        (child_id,),
    )
    return episode_from_row(row) if row else None


async def latest_found_episode(r: Reader, child_id: int) -> Episode | None:
    """The latest episode the child has returned from that is not finalised yet."""
    row = await r.fetchone(
        "SELECT * FROM episodes WHERE child_id = ? AND state = 'found'"
        " ORDER BY found_at DESC, id DESC LIMIT 1",
        (child_id,),
    )
    return episode_from_row(row) if row else None


async def last_found_at(r: Reader, child_id: int) -> datetime | None:
    row = await r.fetchone(
        "SELECT MAX(found_at) AS t FROM episodes WHERE child_id = ? AND found_at IS NOT NULL",
        (child_id,),
    )
    return from_db_time(row["t"]) if row else None


async def episodes_of_child(r: Reader, child_id: int) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE child_id = ? ORDER BY last_seen_at, id", (child_id,)
    )
    return [episode_from_row(row) for row in rows]


CASELOAD_COLUMNS = frozenset({"home", "social_worker_id", "team_manager_id", "iro_id", "id"})


def _narrowed(where: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    clauses, params = [], []
    for column, value in where:
        if column not in CASELOAD_COLUMNS:
            raise ValueError(f"not a caseload column: {column}")
        clauses.append(f" AND c.{column} = ?")
        params.append(value)
    return "".join(clauses), params


async def unfinalised_episodes_with_children(
    r: Reader, where: Sequence[tuple[str, str]] = (), limit: int | None = None
) -> list[tuple[Episode, Child]]:
    """Open and found episodes with their children, longest missing first, narrowed by
    children's columns (a carer's /status reads their home's, not the whole service's)."""
    clauses, params = _narrowed(where)
    rows = await r.fetchall(
        f"SELECT e.*, {CHILD_AS_C}"
        " FROM episodes e JOIN children c ON c.id = e.child_id"
        f" WHERE e.state IN ('open', 'found'){clauses} ORDER BY e.last_seen_at, e.id"
        + (" LIMIT ?" if limit is not None else ""),
        [*params, limit] if limit is not None else params,
    )
    return [(episode_from_row(row), child_from_row(row, prefix="c_")) for row in rows]


async def count_unfinalised(r: Reader, where: Sequence[tuple[str, str]] = ()) -> int:
    clauses, params = _narrowed(where)
    row = await r.fetchone(
        "SELECT COUNT(*) AS n FROM episodes e JOIN children c ON c.id = e.child_id"
        f" WHERE e.state IN ('open', 'found'){clauses}",
        params,
    )
    return int(row["n"]) if row else 0


async def insert_episode(
    tx: Tx,
    *,
    child: Child,
    category: Category,
    concern: Concern,
    last_seen_at: datetime,
    last_seen_place: str,
    reported_by: str,
    reported_at: datetime,
    link_group: int | None = None,
) -> int:
    return await tx.insert(
        "INSERT INTO episodes (child_id, area, state, category, concern, last_seen_at,"
        " last_seen_place, reported_by, reported_at, link_group)"
        " VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
        (
            child.id,
            child.area,
            category.value,
            concern.value,
            to_db_time(last_seen_at),
            last_seen_place,
            reported_by,
            to_db_time(reported_at),
            link_group,
        ),
    )


_EPISODE_COLUMNS = frozenset({
    "state", "category", "concern", "ever_missing", "police_ref", "police_grade",
    "police_reported_at", "found_at", "end_reason", "found_where", "rhi_status", "rhi_by",
    "finalised_at", "finalised_by", "link_group",
})  # fmt: skip


async def update_episode(tx: Tx, episode: Episode, **changes: Any) -> Episode:
    """Apply changes if the episode is still at the version the caller read (else StaleWrite)."""
    row = await update_versioned(
        tx, "episodes", "episode", _EPISODE_COLUMNS, episode.id, episode.version, changes
    )
    return episode_from_row(row)


async def next_link_group(tx: Tx) -> int:
    row = await tx.fetchone("SELECT COALESCE(MAX(link_group), 0) + 1 AS g FROM episodes")
    assert row is not None
    return int(row["g"])


# ---- the managers' view ---------------------------------------------------------------------


async def episodes_overlapping(r: Reader, start: datetime, end: datetime) -> list[Episode]:
    """Episodes that were running at some point in [start, end)."""
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE last_seen_at < ? AND (found_at IS NULL OR found_at >= ?)"
        " ORDER BY last_seen_at, id",
        (to_db_time(end), to_db_time(start)),
    )
    return [episode_from_row(row) for row in rows]


async def episodes_started_between(r: Reader, start: datetime, end: datetime) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE last_seen_at >= ? AND last_seen_at < ?"
        " ORDER BY last_seen_at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [episode_from_row(row) for row in rows]


async def open_episodes(r: Reader) -> list[Episode]:
    rows = await r.fetchall("SELECT * FROM episodes WHERE state = 'open' ORDER BY last_seen_at, id")
    return [episode_from_row(row) for row in rows]


async def found_between(r: Reader, start: datetime, end: datetime) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE found_at >= ? AND found_at < ? ORDER BY found_at, id",
        (to_db_time(start), to_db_time(end)),
    )
    return [episode_from_row(row) for row in rows]


async def count_episodes_since(r: Reader, child_id: int, since: datetime) -> int:
    row = await r.fetchone(
        "SELECT COUNT(*) AS n FROM episodes WHERE child_id = ? AND last_seen_at >= ?",
        (child_id, to_db_time(since)),
    )
    return int(row["n"]) if row else 0


# ---- events -----------------------------------------------------------------


def _event(row: Row) -> Event:
    return Event(
        id=row["id"],
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        at=from_db_time_set(row["at"]),
        recorded_at=from_db_time_set(row["recorded_at"]),
        actor_id=row["actor_id"],
        kind=row["kind"],
        rule_id=row["rule_id"],
        text=row["text"],
    )


async def append_event(
    tx: Tx,
    *,
    episode_id: int | None,
    child_id: int | None,
    at: datetime,
    recorded_at: datetime,
    actor_id: str | None,
    kind: str,
    text: str = "",
    rule_id: str | None = None,
) -> int:
    return await tx.insert(
        "INSERT INTO events (episode_id, child_id, at, recorded_at, actor_id, kind, rule_id, text)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            episode_id,
            child_id,
            to_db_time(at),
            to_db_time(recorded_at),
            actor_id,
            kind,
            rule_id,
            text,
        ),
    )


async def events_for_episode(r: Reader, episode_id: int) -> list[Event]:
    rows = await r.fetchall(
        "SELECT * FROM events WHERE episode_id = ? ORDER BY at, id", (episode_id,)
    )
    return [_event(row) for row in rows]


async def last_event_at(r: Reader, episode_id: int, kinds: tuple[str, ...]) -> datetime | None:
    marks = ", ".join("?" for _ in kinds)
    row = await r.fetchone(
        f"SELECT MAX(recorded_at) AS t FROM events WHERE episode_id = ? AND kind IN ({marks})",
        (episode_id, *kinds),
    )
    return from_db_time(row["t"]) if row else None
