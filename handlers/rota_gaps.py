"""Who holds each rota role over a span, and where a role the ladders need has nobody.

The roles the ladders need are the rota roles their steps name (config/protocols/_ladders.yaml,
through reminders/routing.py): the out-of-hours duty worker and manager (also what "social
worker" and "manager" mean out of office hours), the police liaison, the missing coordinator.
The out-of-hours roles are needed only outside the office hours of some area with children;
the others at all times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.presets import Preset
from config.role_words import on_rota
from reminders import schedule
from reminders.clock import Clock
from reminders.formatting import local_time
from reminders.routing import ROTA_ROLES
from storage import child_store, message_keys, outbox_store, report_store, rota_store, staff_store
from storage.db import Database, Reader, Tx
from storage.models import Recipient, Role
from storage.rota_store import Shift

# Audiences that mean a rota role out of office hours (reminders/routing.py).
OUT_OF_HOURS_MEANS = {"social_worker": "out_of_hours", "manager": "out_of_hours_manager"}
OUT_OF_HOURS_ONLY = frozenset({"out_of_hours", "out_of_hours_manager"})
STEP = timedelta(minutes=15)  # office hours open and close on the quarter hour


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    staff_ids: tuple[str, ...]  # empty: nobody

    @property
    def empty(self) -> bool:
        return not self.staff_ids


@dataclass(frozen=True)
class Gap:
    role: str
    start: datetime
    end: datetime


def needed_roles(presets: Iterable[Preset]) -> list[str]:
    """The rota roles some ladder of these presets names, in the routing table's order."""
    found: set[str] = set()
    for preset in presets:
        for ladder in preset.ladders.values():
            for step in ladder.steps:
                for audience in step.notify:
                    if audience in ROTA_ROLES:
                        found.add(audience)
                    elif audience in OUT_OF_HOURS_MEANS:
                        found.add(OUT_OF_HOURS_MEANS[audience])
    return [role for role in ROTA_ROLES if role in found]


def segments(shifts: list[Shift], start: datetime, end: datetime) -> list[Segment]:
    """[start, end) cut where holders change: a cover in force hides the scheduled people."""
    cuts = sorted(
        {start, end}
        | {s.starts_at for s in shifts if start < s.starts_at < end}
        | {s.ends_at for s in shifts if start < s.ends_at < end}
    )
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        live = [s for s in shifts if s.starts_at <= a and s.ends_at >= b]
        top = max((s.precedence for s in live), default=0)
        who = tuple(dict.fromkeys(s.staff_id for s in live if s.precedence == top))
        if out and out[-1].staff_ids == who:
            out[-1] = Segment(out[-1].start, b, who)
        else:
            out.append(Segment(a, b, who))
    return out


def _needed_at(role: str, at: datetime, presets: list[Preset]) -> bool:
    if role not in OUT_OF_HOURS_ONLY:
        return True
    return any(not p.calendar.in_office_hours(at) for p in presets)


def needed_spans(
    role: str, start: datetime, end: datetime, presets: list[Preset]
) -> list[tuple[datetime, datetime]]:
    """When in [start, end) the role must be held (out-of-hours roles: outside office hours)."""
    if role not in OUT_OF_HOURS_ONLY:
        return [(start, end)]
    spans: list[tuple[datetime, datetime]] = []
    at = start
    while at < end:
        into = timedelta(minutes=at.minute % 15, seconds=at.second, microseconds=at.microsecond)
        nxt = min(end, at + STEP - into)
        if _needed_at(role, at, presets):
            if spans and spans[-1][1] == at:
                spans[-1] = (spans[-1][0], nxt)
            else:
                spans.append((at, nxt))
        at = nxt
    return spans


async def areas_presets(r: Reader, presets: dict[str, Preset]) -> list[Preset]:
    """The presets of the areas that have children (all of them if none has yet)."""
    areas = await child_store.child_areas(r)
    chosen = [presets[a] for a in areas if a in presets]
    return chosen or list(presets.values())


async def gaps(
    r: Reader,
    presets: dict[str, Preset],
    start: datetime,
    end: datetime,
    roles: list[str] | None = None,
) -> list[Gap]:
    """Every span in [start, end) where a needed role has nobody on the rota."""
    chosen = await areas_presets(r, presets)
    found: list[Gap] = []
    for role in roles if roles is not None else needed_roles(chosen):
        shifts = await rota_store.active_shifts_between(r, start, end, role)
        empty = [s for s in segments(shifts, start, end) if s.empty]
        for need_start, need_end in needed_spans(role, start, end, chosen):
            for seg in empty:
                a, b = max(seg.start, need_start), min(seg.end, need_end)
                if a < b:
                    if found and found[-1].role == role and found[-1].end == a:
                        found[-1] = Gap(role, found[-1].start, b)
                    else:
                        found.append(Gap(role, a, b))
    return found


# ---- telling the out-of-hours manager and the admins -----------------------------------

AHEAD = timedelta(hours=24)
JOB = "rota-gaps"
STALE = timedelta(hours=12)  # a forecast missed by more (the bot was down) is skipped


def gap_lines(found: list[Gap], zone: ZoneInfo) -> list[str]:
    return [
        f"• {on_rota(g.role)}: {local_time(g.start, zone)} to {local_time(g.end, zone)}"
        for g in found
    ]


async def gap_recipients(r: Reader, now: datetime) -> list[Recipient]:
    """The out-of-hours manager on the rota now (else everyone with that role) and the admins."""
    managers = await rota_store.on_rota(r, "out_of_hours_manager", now)
    if not managers:
        managers = [s.id for s in await staff_store.staff_with_role(r, Role.OUT_OF_HOURS_MANAGER)]
    admins = [s.id for s in await staff_store.staff_with_role(r, Role.ADMIN)]
    return [Recipient.staff(s) for s in dict.fromkeys([*managers, *admins])]


async def tell_gaps(
    tx: Tx, presets: dict[str, Preset], now: datetime, zone: ZoneInfo, why: str
) -> list[Gap]:
    """Tell of the next 24 hours' gaps, unless this very list was told already today (a
    rota change that leaves the gaps as they were says nothing new)."""
    found = await gaps(tx, presets, now, now + AHEAD)
    if not found:
        return found
    lines = gap_lines(found, zone)
    signature = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    run_key = f"{now.astimezone(zone).date()}:{signature}"
    if not await report_store.claim_run(tx, JOB, run_key, now):
        return found
    await _tell(tx, lines, why, run_key, now)
    return found


async def _tell(tx: Tx, lines: list[str], why: str, run: str, now: datetime) -> None:
    """The out-of-hours manager and the admins hear of the gaps, once per `run`."""
    text = "\n".join(
        [
            f"Rota gaps in the next 24 hours ({why}): nobody holds these roles, which the "
            "alerts need:",
            *lines,
            "Fill them: /cover <role> <from> <to> <staff id>; /rota shows the rota.",
        ]
    )
    for recipient in await gap_recipients(tx, now):
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.rota_gaps(run, recipient),
            recipient=recipient,
            text=text,
            now=now,
        )


class GapJobs:
    """The daily gap forecast at the preset's `rota.gaps_at`, once per local date (like the
    managers' reports, handlers/report_jobs.py)."""

    def __init__(self, db: Database, clock: Clock, presets: dict[str, Preset]) -> None:
        self.db = db
        self.clock = clock
        self.presets = presets

    async def _preset(self) -> Preset:
        return (await areas_presets(self.db, self.presets))[0]

    async def next_due(self) -> datetime | None:
        preset = await self._preset()
        now, at, zone = self.clock.now(), preset.rota.gaps_at, preset.zone
        day = schedule.latest(now, at, zone)
        if await report_store.has_run(self.db, JOB + ":daily", day.isoformat()):
            day = schedule.following(day, at, zone)
        return schedule.occurrence(day, at, zone)

    async def run_due(self) -> int:
        preset = await self._preset()
        now, at, zone = self.clock.now(), preset.rota.gaps_at, preset.zone
        day = schedule.latest(now, at, zone)
        if await report_store.has_run(self.db, JOB + ":daily", day.isoformat()):
            return 0
        if now - schedule.occurrence(day, at, zone) > STALE:
            async with self.db.write() as tx:
                await report_store.claim_run(tx, JOB + ":daily", day.isoformat(), now)
            return 0
        async with self.db.write() as tx:
            if not await report_store.claim_run(tx, JOB + ":daily", day.isoformat(), now):
                return 0
            found = await gaps(tx, self.presets, now, now + AHEAD)
            if not found:
                return 1
            why = f"the daily check, {local_time(now, zone)}"
            await _tell(tx, gap_lines(found, zone), why, f"daily:{day}", now)
        return 1
