"""Queries. The only module besides db.py that holds SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from storage.db import Database, Row, Tx, from_db_time, to_db_time, write_alone
from storage.models import (
    Button,
    Category,
    Child,
    Concern,
    Duty,
    EndReason,
    Episode,
    EpisodeState,
    Event,
    LegalStatus,
    OutboxMessage,
    PoliceGrade,
    RhiStatus,
    Role,
    Staff,
    buttons_from_json,
    buttons_to_json,
)


class Reader(Protocol):
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class StaleWrite(RuntimeError):
    """The episode changed under us; the caller's transaction must roll back."""


# ---- staff ------------------------------------------------------------------


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


async def identities_of(r: Reader, staff_id: str) -> dict[str, str]:
    rows = await r.fetchall(
        "SELECT transport, external_id FROM staff_identities WHERE staff_id = ?", (staff_id,)
    )
    return {row["transport"]: row["external_id"] for row in rows}


# ---- children ---------------------------------------------------------------


# The columns `_child` reads (a join names them with a prefix).
CHILD_COLUMNS = (
    "id", "ref", "first_name", "full_name", "dob", "home", "area", "legal_status",
    "home_authority", "social_worker_id", "team_manager_id", "iro_id", "profile_json",
)  # fmt: skip
_CHILD_AS_C = ", ".join(f"c.{name} AS c_{name}" for name in CHILD_COLUMNS)


def _child(row: Row, prefix: str = "") -> Child:
    def col(name: str) -> Any:
        return row[prefix + name]

    return Child(
        id=col("id"),
        ref=col("ref"),
        first_name=col("first_name"),
        full_name=col("full_name"),
        dob=date.fromisoformat(col("dob")) if col("dob") else None,
        home=col("home"),
        area=col("area"),
        legal_status=LegalStatus(col("legal_status")),
        home_authority=col("home_authority"),
        social_worker_id=col("social_worker_id"),
        team_manager_id=col("team_manager_id"),
        iro_id=col("iro_id"),
        profile=json.loads(col("profile_json") or "{}"),
    )


async def upsert_child(tx: Tx, child: Child) -> int:
    """Insert or update by reference; returns the child's id."""
    await tx.execute(
        "INSERT INTO children (ref, first_name, full_name, dob, home, area, legal_status,"
        " home_authority, social_worker_id, team_manager_id, iro_id, profile_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(ref) DO UPDATE SET first_name=excluded.first_name,"
        " full_name=excluded.full_name, dob=excluded.dob, home=excluded.home,"
        " area=excluded.area, legal_status=excluded.legal_status,"
        " home_authority=excluded.home_authority, social_worker_id=excluded.social_worker_id,"
        " team_manager_id=excluded.team_manager_id, iro_id=excluded.iro_id,"
        " profile_json=excluded.profile_json",
        (
            child.ref,
            child.first_name,
            child.full_name,
            child.dob.isoformat() if child.dob else None,
            child.home,
            child.area,
            child.legal_status.value,
            child.home_authority,
            child.social_worker_id,
            child.team_manager_id,
            child.iro_id,
            json.dumps(child.profile),
        ),
    )
    row = await tx.fetchone("SELECT id FROM children WHERE ref = ?", (child.ref,))
    assert row is not None
    return int(row["id"])


async def get_child(r: Reader, child_id: int) -> Child | None:
    row = await r.fetchone("SELECT * FROM children WHERE id = ?", (child_id,))
    return _child(row) if row else None


async def get_child_by_ref(r: Reader, ref: str) -> Child | None:
    row = await r.fetchone("SELECT * FROM children WHERE UPPER(ref) = UPPER(?)", (ref,))
    return _child(row) if row else None


async def list_children(r: Reader) -> list[Child]:
    return [_child(row) for row in await r.fetchall("SELECT * FROM children ORDER BY ref")]


async def child_areas(r: Reader) -> list[str]:
    rows = await r.fetchall("SELECT DISTINCT area FROM children ORDER BY area")
    return [row["area"] for row in rows]


async def children_by_first_name(r: Reader, first_name: str) -> list[Child]:
    rows = await r.fetchall(
        "SELECT * FROM children WHERE LOWER(first_name) = LOWER(?) ORDER BY ref", (first_name,)
    )
    return [_child(row) for row in rows]


# ---- episodes ---------------------------------------------------------------


def _episode(row: Row) -> Episode:
    return Episode(
        id=row["id"],
        child_id=row["child_id"],
        area=row["area"],
        state=EpisodeState(row["state"]),
        category=Category(row["category"]),
        concern=Concern(row["concern"]),
        ever_missing=bool(row["ever_missing"]),
        last_seen_at=_t(row["last_seen_at"]),
        last_seen_place=row["last_seen_place"],
        reported_by=row["reported_by"],
        reported_at=_t(row["reported_at"]),
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


def _t(text: str) -> datetime:
    when = from_db_time(text)
    assert when is not None
    return when


async def get_episode(r: Reader, episode_id: int) -> Episode | None:
    row = await r.fetchone("SELECT * FROM episodes WHERE id = ?", (episode_id,))
    return _episode(row) if row else None


async def open_episode_for_child(r: Reader, child_id: int) -> Episode | None:
    row = await r.fetchone(
        "SELECT * FROM episodes WHERE child_id = ? AND state = 'open'", (child_id,)
    )
    return _episode(row) if row else None


async def latest_episode_for_child(r: Reader, child_id: int) -> Episode | None:
    row = await r.fetchone(
        "SELECT * FROM episodes WHERE child_id = ? ORDER BY last_seen_at DESC, id DESC LIMIT 1",
        (child_id,),
    )
    return _episode(row) if row else None


async def latest_found_episode(r: Reader, child_id: int) -> Episode | None:
    """The latest episode the child has returned from that is not finalised yet."""
    row = await r.fetchone(
        "SELECT * FROM episodes WHERE child_id = ? AND state = 'found'"
        " ORDER BY found_at DESC, id DESC LIMIT 1",
        (child_id,),
    )
    return _episode(row) if row else None


async def last_found_at(r: Reader, child_id: int) -> datetime | None:
    row = await r.fetchone(
        "SELECT MAX(found_at) AS t FROM episodes WHERE child_id = ? AND found_at IS NOT NULL",
        (child_id,),
    )
    return from_db_time(row["t"]) if row else None


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
        f"SELECT e.*, {_CHILD_AS_C}"
        " FROM episodes e JOIN children c ON c.id = e.child_id"
        f" WHERE e.state IN ('open', 'found'){clauses} ORDER BY e.last_seen_at, e.id"
        + (" LIMIT ?" if limit is not None else ""),
        [*params, limit] if limit is not None else params,
    )
    return [(_episode(row), _child(row, prefix="c_")) for row in rows]


async def count_unfinalised(r: Reader, where: Sequence[tuple[str, str]] = ()) -> int:
    clauses, params = _narrowed(where)
    row = await r.fetchone(
        "SELECT COUNT(*) AS n FROM episodes e JOIN children c ON c.id = e.child_id"
        f" WHERE e.state IN ('open', 'found'){clauses}",
        params,
    )
    return int(row["n"]) if row else 0


async def episodes_in_group(r: Reader, link_group: int) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE link_group = ? ORDER BY id", (link_group,)
    )
    return [_episode(row) for row in rows]


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


_EPISODE_COLUMNS = {
    "state", "category", "concern", "ever_missing", "police_ref", "police_grade",
    "police_reported_at", "found_at", "end_reason", "found_where", "rhi_status", "rhi_by",
    "finalised_at", "finalised_by", "link_group",
}  # fmt: skip


async def update_episode(tx: Tx, episode: Episode, **changes: Any) -> None:
    """Apply changes if the episode is still at the version the caller read (else StaleWrite)."""
    unknown = set(changes) - _EPISODE_COLUMNS
    if unknown:
        raise ValueError(f"not episode columns: {sorted(unknown)}")
    values = [_db_value(v) for v in changes.values()]
    assignments = ", ".join(f"{name} = ?" for name in changes)
    cursor = await tx.execute(
        f"UPDATE episodes SET {assignments}, version = version + 1 WHERE id = ? AND version = ?",
        (*values, episode.id, episode.version),
    )
    if cursor.rowcount != 1:
        raise StaleWrite(f"episode {episode.id} changed while it was being updated")


def _db_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db_time(value)
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


async def next_link_group(tx: Tx) -> int:
    row = await tx.fetchone("SELECT COALESCE(MAX(link_group), 0) + 1 AS g FROM episodes")
    assert row is not None
    return int(row["g"])


# ---- events -----------------------------------------------------------------


def _event(row: Row) -> Event:
    return Event(
        id=row["id"],
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        at=_t(row["at"]),
        recorded_at=_t(row["recorded_at"]),
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


# ---- duties -----------------------------------------------------------------


def _duty(row: Row) -> Duty:
    return Duty(
        id=row["id"],
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        rule_id=row["rule_id"],
        due_at=_t(row["due_at"]),
        owner_id=row["owner_id"],
        state=row["state"],
        created_at=_t(row["created_at"]),
        closed_by=row["closed_by"],
        closed_at=from_db_time(row["closed_at"]),
        note=row["note"],
        owner_role=row["owner_role"],
        action=row["action"],
        spec=json.loads(row["spec_json"] or "{}"),
        next_remind_at=from_db_time(row["next_remind_at"]),
        reminders=row["reminders"],
        overdue_reminders=row["overdue_reminders"],
        manager_told_at=from_db_time(row["manager_told_at"]),
        applies_from=from_db_time(row["applies_from"]),
        version=row["version"],
    )


async def insert_duty(
    tx: Tx,
    *,
    episode_id: int | None,
    child_id: int,
    rule_id: str,
    due_at: datetime,
    owner_id: str | None,
    created_at: datetime,
    owner_role: str | None = None,
    action: str = "",
    spec: dict[str, Any] | None = None,
    next_remind_at: datetime | None = None,
    applies_from: datetime | None = None,
) -> int:
    return await tx.insert(
        "INSERT INTO duties (episode_id, child_id, rule_id, due_at, owner_id, created_at,"
        " owner_role, action, spec_json, next_remind_at, applies_from)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            episode_id,
            child_id,
            rule_id,
            to_db_time(due_at),
            owner_id,
            to_db_time(created_at),
            owner_role,
            action,
            json.dumps(spec or {}),
            to_db_time(next_remind_at) if next_remind_at else None,
            to_db_time(applies_from) if applies_from else None,
        ),
    )


async def get_duty(r: Reader, duty_id: int) -> Duty | None:
    row = await r.fetchone("SELECT * FROM duties WHERE id = ?", (duty_id,))
    return _duty(row) if row else None


async def duties_for_episode(r: Reader, episode_id: int) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE episode_id = ? ORDER BY due_at, id", (episode_id,)
    )
    return [_duty(row) for row in rows]


async def open_duties(r: Reader, owner_id: str | None = None) -> list[Duty]:
    if owner_id is None:
        rows = await r.fetchall("SELECT * FROM duties WHERE state = 'open' ORDER BY due_at, id")
    else:
        rows = await r.fetchall(
            "SELECT * FROM duties WHERE state = 'open' AND owner_id = ? ORDER BY due_at, id",
            (owner_id,),
        )
    return [_duty(row) for row in rows]


async def open_duties_managed_by(r: Reader, manager_id: str) -> list[Duty]:
    """Open duties owned by the people who report to this manager."""
    rows = await r.fetchall(
        "SELECT d.* FROM duties d JOIN staff s ON s.id = d.owner_id"
        " WHERE d.state = 'open' AND s.manager_id = ? ORDER BY d.due_at, d.id",
        (manager_id,),
    )
    return [_duty(row) for row in rows]


async def due_duty_reminders(r: Reader, now: datetime, limit: int) -> list[Duty]:
    rows = await r.fetchall(
        "SELECT * FROM duties WHERE next_remind_at IS NOT NULL AND next_remind_at <= ?"
        " ORDER BY next_remind_at, id LIMIT ?",
        (to_db_time(now), limit),
    )
    return [_duty(row) for row in rows]


async def next_duty_reminder(r: Reader) -> datetime | None:
    row = await r.fetchone(
        "SELECT MIN(next_remind_at) AS t FROM duties WHERE next_remind_at IS NOT NULL"
    )
    return from_db_time(row["t"]) if row else None


async def duty_created_since(
    r: Reader, child_id: int, rule_id: str, since: datetime | None
) -> bool:
    row = await r.fetchone(
        "SELECT 1 FROM duties WHERE child_id = ? AND rule_id = ? AND created_at >= ? LIMIT 1",
        (child_id, rule_id, to_db_time(since) if since else "0"),
    )
    return row is not None


async def update_duty(tx: Tx, duty: Duty, **changes: Any) -> Duty:
    """Move a duty on, if nobody else did since it was read (else StaleWrite)."""
    allowed = {
        "state", "owner_id", "closed_by", "closed_at", "note", "next_remind_at", "reminders",
        "overdue_reminders", "manager_told_at", "due_at",
    }  # fmt: skip
    if set(changes) - allowed:
        raise ValueError(f"not duty columns: {sorted(set(changes) - allowed)}")
    values = [_db_value(v) for v in changes.values()]
    assignments = ", ".join(f"{name} = ?" for name in changes)
    cursor = await tx.execute(
        f"UPDATE duties SET {assignments}, version = version + 1 WHERE id = ? AND version = ?",
        (*values, duty.id, duty.version),
    )
    if cursor.rowcount != 1:
        raise StaleWrite(f"duty {duty.id} changed while it was being updated")
    fresh = await get_duty(tx, duty.id)
    assert fresh is not None
    return fresh


async def episodes_of_child(r: Reader, child_id: int) -> list[Episode]:
    rows = await r.fetchall(
        "SELECT * FROM episodes WHERE child_id = ? ORDER BY last_seen_at, id", (child_id,)
    )
    return [_episode(row) for row in rows]


# ---- outbox -----------------------------------------------------------------


def _outbox(row: Row) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        idem_key=row["idem_key"],
        recipient=row["recipient"],
        rule_id=row["rule_id"],
        text=row["text"],
        buttons=buttons_from_json(row["buttons_json"]),
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        created_at=_t(row["created_at"]),
        due_at=_t(row["due_at"]),
        attempts=row["attempts"],
        state=row["state"],
        attachment_id=row["attachment_id"],
    )


async def enqueue(
    tx: Tx,
    *,
    idem_key: str,
    recipient: str,
    text: str,
    rule_id: str | None,
    now: datetime,
    episode_id: int | None = None,
    child_id: int | None = None,
    buttons: Sequence[Button] = (),
    due_at: datetime | None = None,
    attachment_id: int | None = None,
) -> bool:
    """Queue a message once per idempotency key; False if that key was already queued.

    `due_at` is when the rule wanted it sent (a timer's due time); delivery marks it late
    by the difference when a restart or an outage held it back.
    """
    cursor = await tx.execute(
        "INSERT INTO outbox (idem_key, episode_id, child_id, recipient, rule_id, text,"
        " buttons_json, created_at, due_at, next_attempt_at, attachment_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING",
        (
            idem_key,
            episode_id,
            child_id,
            recipient,
            rule_id,
            text,
            buttons_to_json(list(buttons)),
            to_db_time(now),
            to_db_time(due_at or now),
            to_db_time(now),
            attachment_id,
        ),
    )
    return cursor.rowcount == 1


async def claim_outbox(tx: Tx, now: datetime, limit: int) -> list[OutboxMessage]:
    """Mark up to `limit` due messages as being sent and return them, oldest first."""
    # In order per recipient: nothing overtakes an earlier message that is waiting to retry.
    # A finalised episode's clearing (RET-FINAL) waits until everything queued before it for
    # that episode has gone: a profile sent after it would never be deleted.
    rows = await tx.fetchall(
        "UPDATE outbox SET state = 'sending', claimed_at = ?, attempts = attempts + 1"
        " WHERE id IN (SELECT o.id FROM outbox o WHERE o.state = 'pending'"
        " AND o.next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM outbox p"
        " WHERE p.recipient = o.recipient AND p.state = 'pending' AND p.id < o.id"
        " AND p.next_attempt_at > ?)"
        " AND NOT (o.recipient = 'redact' AND EXISTS (SELECT 1 FROM outbox q"
        " WHERE q.episode_id = o.episode_id AND q.id < o.id"
        " AND q.state IN ('pending', 'sending')))"
        " ORDER BY o.id LIMIT ?) RETURNING *",
        (to_db_time(now), to_db_time(now), to_db_time(now), limit),
    )
    return sorted((_outbox(row) for row in rows), key=lambda m: m.id)


async def release_claim(tx: Tx, message_id: int, retry_at: datetime) -> None:
    """Put a claimed message back unsent and uncounted: an earlier one to its recipient failed."""
    await tx.execute(
        "UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = ?,"
        " claimed_at = NULL WHERE id = ? AND state = 'sending'",
        (to_db_time(retry_at), message_id),
    )


async def retry_time(r: Reader, message_id: int) -> datetime | None:
    """When a message that failed will be tried again (None: sent, or given up)."""
    row = await r.fetchone(
        "SELECT next_attempt_at FROM outbox WHERE id = ? AND state = 'pending'", (message_id,)
    )
    return _t(row["next_attempt_at"]) if row else None


async def mark_sent(w: Tx | Database, message_id: int, now: datetime) -> None:
    await write_alone(
        w,
        "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
        (to_db_time(now), message_id),
    )


async def mark_retry(tx: Tx, message_id: int, retry_at: datetime, error: str) -> None:
    await tx.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
        (to_db_time(retry_at), error[:500], message_id),
    )


async def mark_failed(tx: Tx, message_id: int, error: str) -> None:
    await tx.execute(
        "UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?",
        (error[:500], message_id),
    )


async def release_stale_claims(tx: Tx) -> int:
    """At start-up: anything left 'sending' by a crash goes back to pending (sent again)."""
    cursor = await tx.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
    return cursor.rowcount


async def outbox_messages(r: Reader, state: str | None = None) -> list[OutboxMessage]:
    if state is None:
        rows = await r.fetchall("SELECT * FROM outbox ORDER BY id")
    else:
        rows = await r.fetchall("SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,))
    return [_outbox(row) for row in rows]
