"""Changes to the rota: imports, covers, removals. Each is one transaction that writes the
shifts, the audit trail and a message to every person the change moved off a shift.

An import is idempotent: a shift is known by its file and its key in that file (role,
person, from, to for a table row; UID and recurrence for a calendar event), so the same file
twice changes nothing, and a changed file updates, adds and removes only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import get_args
from zoneinfo import ZoneInfo

from config.role_words import on_rota, typed
from config.vocabulary import Audience
from reminders.formatting import local_time
from storage import message_keys, outbox_store, rota_store, staff_store
from storage.db import Reader, Tx, to_db_time
from storage.models import Recipient, Role
from storage.rota_store import Shift

# The roles a shift may hold: the rota's audiences and the staff roles (config/team.py).
ROTA_ROLES: tuple[str, ...] = tuple(dict.fromkeys([*get_args(Audience), *(r.value for r in Role)]))


def read_role(text: str) -> str | None:
    """'Out of hours', 'OOH', 'out_of_hours' -> 'out_of_hours'; None if it names no role."""
    word = " ".join(text.strip().lower().split())
    known = typed(word)
    if known is not None:
        return known
    name = word.replace(" ", "_").replace("-", "_")
    return name if name in ROTA_ROLES else None


TEAM_FILE = "team file"  # the source name of shifts from `whereabouts import` (the team file)


class RotaError(ValueError):
    """A rota change refused: the message says what is wrong and what to do instead."""


@dataclass(frozen=True)
class ImportRow:
    """One shift of a file, with where it is in the file (for errors) and its identity."""

    role: str
    staff_id: str
    starts_at: datetime
    ends_at: datetime
    key: str
    where: str  # 'row 3', 'event "OOH: ooh1" on 2026-10-23'


def table_keys(rows: list[tuple[str, str, datetime, datetime, str]]) -> list[ImportRow]:
    """Rows of a table (role, staff, from, to, where) as shifts with their identity: role,
    from, to and the place among the file's rows with those three, so a change of person
    updates the shift in place; the same row twice is one shift. (Migration 0014 gave the
    shifts imported before it the same keys.)"""
    seen: set[tuple[str, str, datetime, datetime]] = set()
    places: dict[tuple[str, datetime, datetime], int] = {}
    out = []
    for role, staff_id, start, end, where in rows:
        if (role, staff_id, start, end) in seen:
            continue
        seen.add((role, staff_id, start, end))
        n = places.get((role, start, end), 0)
        places[(role, start, end)] = n + 1
        key = f"{role}|{to_db_time(start)}|{to_db_time(end)}#{n}"
        out.append(ImportRow(role, staff_id, start, end, key, where))
    return out


@dataclass
class ImportResult:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    told: list[str] = field(default_factory=list)  # staff ids told they were moved

    @property
    def summary(self) -> str:
        return (
            f"{self.added} added, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged"
        )


def span_text(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    return f"{local_time(start, zone)} to {local_time(end, zone)}"


async def _name(r: Reader, staff_id: str | None) -> str:
    if staff_id is None:
        return "nobody"
    staff = await staff_store.get_staff(r, staff_id)
    return staff.name if staff else staff_id


async def tell_displaced(
    tx: Tx,
    audit_id: int,
    displaced: str,
    shift: Shift,
    now: datetime,
    zone: ZoneInfo,
    *,
    holder: str | None,
    why: str,
) -> None:
    """The person moved off (part of) a shift hears what changed and who has it now."""
    now_with = f"{await _name(tx, holder)} has it now" if holder else "nobody has it now"
    await outbox_store.enqueue(
        tx,
        idem_key=message_keys.rota_notice(audit_id, displaced),
        recipient=Recipient.staff(displaced),
        text=(
            f"Rota change: you are no longer on {on_rota(shift.role)}, "
            f"{span_text(shift.starts_at, shift.ends_at, zone)} ({why}; {now_with}). "
            "If that is wrong, tell the out-of-hours manager; /rota shows the rota."
        ),
        now=now,
    )


async def check_staff(r: Reader, rows: list[ImportRow]) -> None:
    """Every row's person exists and is active, or the whole file is refused naming the row."""
    for row in rows:
        staff = await staff_store.get_staff(r, row.staff_id)
        if staff is None:
            raise RotaError(f"{row.where}: no staff '{row.staff_id}'. Nothing was imported.")
        if not staff.active:
            raise RotaError(f"{row.where}: '{row.staff_id}' is not active. Nothing was imported.")


async def apply_import(
    tx: Tx,
    rows: list[ImportRow],
    *,
    source_file: str,
    now: datetime,
    zone: ZoneInfo,
    actor: str | None = None,
    source: str = "import",
    remove_missing: bool = True,
    window: tuple[datetime, datetime] | None = None,
) -> ImportResult:
    """Write a file's shifts: the same shift twice is one; a changed file updates in place.

    `remove_missing`: shifts an earlier import of the same file had that this one does not
    are removed (a full file; a calendar's only within the `window` it was read for).
    Runs inside the caller's transaction: a later failure undoes it.
    """
    result = ImportResult()
    existing = {s.import_key: s for s in await rota_store.shifts_from_file(tx, source_file)}
    seen: set[str] = set()
    for row in rows:
        if row.ends_at <= row.starts_at:
            raise RotaError(f"{row.where}: the shift ends before it starts. Nothing was imported.")
        if row.key in seen:
            continue  # the same shift twice in one file is one shift
        seen.add(row.key)
        old = existing.get(row.key)
        if old is None:
            shift_id = await rota_store.add_shift(
                tx, row.role, row.staff_id, row.starts_at, row.ends_at, source=source,
                made_by=actor, made_at=now, source_file=source_file, import_key=row.key,
            )  # fmt: skip
            shift = await rota_store.get_shift(tx, shift_id)
            assert shift is not None
            await rota_store.audit(tx, at=now, actor=actor, action="added", shift=shift)
            result.added += 1
            continue
        same = (old.role, old.staff_id, old.starts_at, old.ends_at) == (
            row.role, row.staff_id, row.starts_at, row.ends_at,
        )  # fmt: skip
        if same:
            result.unchanged += 1
            continue
        await rota_store.update_shift(
            tx, old.id, staff_id=row.staff_id, starts_at=row.starts_at, ends_at=row.ends_at,
            role=row.role,
        )  # fmt: skip
        shift = await rota_store.get_shift(tx, old.id)
        assert shift is not None
        audit_id = await rota_store.audit(
            tx, at=now, actor=actor, action="changed", shift=shift, before_id=old.staff_id,
            note=f"re-import of {source_file}",
        )  # fmt: skip
        result.changed += 1
        if old.staff_id != row.staff_id and old.ends_at > now:
            await tell_displaced(
                tx, audit_id, old.staff_id, old, now, zone, holder=row.staff_id,
                why=f"the rota file {source_file} was re-imported",
            )  # fmt: skip
            result.told.append(old.staff_id)
    if remove_missing:
        for key, old in existing.items():
            if key in seen:
                continue
            if window is not None and not (old.starts_at < window[1] and old.ends_at > window[0]):
                continue
            await rota_store.remove_shift(tx, old.id)
            audit_id = await rota_store.audit(
                tx, at=now, actor=actor, action="removed", shift=old, before_id=old.staff_id,
                removed=True, note=f"not in the re-imported {source_file}",
            )  # fmt: skip
            result.removed += 1
            if old.ends_at > now:
                await tell_displaced(
                    tx, audit_id, old.staff_id, old, now, zone, holder=None,
                    why=f"the shift is not in the re-imported rota file {source_file}",
                )  # fmt: skip
                result.told.append(old.staff_id)
    return result


@dataclass(frozen=True)
class Change:
    shift: Shift
    displaced: list[str]  # staff moved off (part of) a shift by it, each told


async def add_cover(
    tx: Tx,
    role: str,
    staff_id: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    now: datetime,
    zone: ZoneInfo,
    actor: str | None,
    source: str,
    action: str = "cover",
    note: str = "",
) -> Change:
    """`staff_id` holds `role` for exactly [starts_at, ends_at), over whoever was scheduled;
    each person it displaces is told (once per change)."""
    if ends_at <= starts_at:
        raise RotaError("A cover must end after it starts: give the start, then the end.")
    before = await rota_store.active_shifts_between(tx, starts_at, ends_at, role)
    shift_id = await rota_store.add_shift(
        tx, role, staff_id, starts_at, ends_at, source=source, precedence=rota_store.COVER,
        made_by=actor, made_at=now,
    )  # fmt: skip
    shift = await rota_store.get_shift(tx, shift_id)
    assert shift is not None
    displaced = list(dict.fromkeys(s.staff_id for s in before if s.staff_id != staff_id))
    audit_id = await rota_store.audit(
        tx, at=now, actor=actor, action=action, shift=shift,
        before_id=", ".join(displaced) or None, note=note,
    )  # fmt: skip
    who = await _name(tx, actor) if actor else "the command line"
    for person in displaced:
        await tell_displaced(
            tx, audit_id, person, shift, now, zone, holder=staff_id, why=f"{action} by {who}"
        )
    return Change(shift, displaced)


async def add_scheduled(
    tx: Tx,
    role: str,
    staff_id: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    now: datetime,
    actor: str | None,
    source: str,
) -> Shift:
    if ends_at <= starts_at:
        raise RotaError("A shift must end after it starts: give the start, then the end.")
    shift_id = await rota_store.add_shift(
        tx, role, staff_id, starts_at, ends_at, source=source, made_by=actor, made_at=now
    )
    shift = await rota_store.get_shift(tx, shift_id)
    assert shift is not None
    await rota_store.audit(tx, at=now, actor=actor, action="added", shift=shift)
    return shift


async def remove(
    tx: Tx, shift_id: int, *, now: datetime, zone: ZoneInfo, actor: str | None
) -> Shift:
    """Take a shift off the rota; its person is told if it had not ended."""
    shift = await rota_store.get_shift(tx, shift_id)
    if shift is None:
        raise RotaError(f"No shift {shift_id}. `whereabouts rota list` shows each shift's id.")
    await rota_store.remove_shift(tx, shift_id)
    who = await _name(tx, actor) if actor else "the command line"
    audit_id = await rota_store.audit(
        tx, at=now, actor=actor, action="removed", shift=shift, before_id=shift.staff_id,
        removed=True,
    )  # fmt: skip
    if shift.ends_at > now and shift.staff_id != actor:
        await tell_displaced(
            tx, audit_id, shift.staff_id, shift, now, zone, holder=None,
            why=f"removed by {who}",
        )  # fmt: skip
    return shift
