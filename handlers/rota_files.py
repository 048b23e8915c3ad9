"""Rota files read into shifts: a CSV table, or an iCalendar file exported from Outlook or
another calendar (recurring events expanded by `recurring-ical-events`; Windows time-zone
names such as "GMT Standard Time" are understood by `icalendar` itself).

A calendar event is a shift when its summary reads `<role>: <staff id or name>`, or names a
role and an attendee's or the organiser's e-mail is a staff member's. Events that match
nobody are listed, never dropped silently. A row that cannot be read refuses the whole file,
naming the row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from handlers import rota
from handlers.rota import ImportRow, RotaError, table_keys
from storage import staff_store
from storage.db import Reader, to_db_time
from storage.models import Staff

CSV_COLUMNS = ("role", "staff", "from", "to")


@dataclass
class Directory:
    """The staff a file's names are matched against (the database's active staff)."""

    staff: list[Staff]
    emails: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def load(cls, r: Reader) -> Directory:
        staff = [s for s in await staff_store.list_staff(r) if s.active]
        return cls(staff, await staff_store.staff_emails(r))

    def find(self, text: str) -> str | None:
        """A staff id from an id or a name that only one person has."""
        word = text.strip().lower()
        for s in self.staff:
            if s.id == word:
                return s.id
        named = [s for s in self.staff if s.name.lower() == word]
        if len(named) == 1:
            return named[0].id
        first = [s for s in self.staff if s.name.lower().split(" (")[0] == word]
        return first[0].id if len(first) == 1 else None

    def by_email(self, address: str) -> str | None:
        return self.emails.get(address.strip().lower().removeprefix("mailto:"))


@dataclass
class ReadFile:
    rows: list[ImportRow]
    unmatched: list[str]  # events (or rows) that named nobody known: listed, not imported
    window: tuple[datetime, datetime] | None = None  # a calendar's: shifts outside it stay


def _local(text: str, zone: ZoneInfo) -> datetime:
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=zone)


def read_csv(text: str, directory: Directory, zone: ZoneInfo) -> ReadFile:
    """role,staff,from,to (times ISO, local to `zone` unless they carry an offset)."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if not set(CSV_COLUMNS) <= set(columns):
        raise RotaError(
            f"The CSV needs the columns {', '.join(CSV_COLUMNS)} in its first line; it has "
            f"{', '.join(columns) or 'none'}. Nothing was imported."
        )
    reader.fieldnames = columns
    rows: list[tuple[str, str, datetime, datetime, str]] = []
    for number, raw in enumerate(reader, start=2):
        where = f"row {number}"
        role = rota.read_role(raw.get("role") or "")
        if role is None:
            raise RotaError(
                f"{where}: '{raw.get('role')}' is not a rota role ({', '.join(rota.ROTA_ROLES[:5])} "
                "...). Nothing was imported."
            )
        staff_id = directory.find(raw.get("staff") or "")
        if staff_id is None:
            raise RotaError(
                f"{where}: no active staff '{raw.get('staff')}' (give a staff id). "
                "Nothing was imported."
            )
        try:
            start, end = _local(raw["from"] or "", zone), _local(raw["to"] or "", zone)
        except ValueError:
            raise RotaError(
                f"{where}: from and to are times such as 2026-10-23T17:00. Nothing was imported."
            ) from None
        if end <= start:
            raise RotaError(f"{where}: the shift ends before it starts. Nothing was imported.")
        rows.append((role, staff_id, start, end, where))
    return ReadFile(table_keys(rows), [])


def _instant(value: Any, zone: ZoneInfo) -> datetime:
    """An event time as an aware instant: a date means its local midnight; floating is local."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone)
    raise ValueError(f"not a time: {value!r}")


def parse_calendar(data: bytes) -> icalendar.Calendar:
    if b"BEGIN:VCALENDAR" not in data[:2000].upper():
        raise RotaError(
            "That file is not an iCalendar file (it has no BEGIN:VCALENDAR). Export the "
            "calendar as .ics, or give a CSV with the columns role,staff,from,to."
        )
    try:
        return icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise RotaError(
            f"That iCalendar file cannot be read: {exc}. Nothing was imported."
        ) from None


def read_ics(
    data: bytes, directory: Directory, zone: ZoneInfo, start: datetime, end: datetime
) -> ReadFile:
    """The shifts in [start, end) of every event, recurring ones expanded (EXDATE honoured)."""
    calendar = parse_calendar(data)
    try:
        events = recurring_ical_events.of(calendar).between(start, end)
    except Exception as exc:  # noqa: BLE001 - the library's errors are many; the file is bad
        raise RotaError(
            f"That iCalendar file cannot be expanded: {exc}. Nothing was imported."
        ) from None
    rows: list[ImportRow] = []
    unmatched: list[str] = []
    seen: set[str] = set()
    for event in events:
        summary = str(event.get("SUMMARY", "")).strip()
        try:
            begins = _instant(event["DTSTART"].dt, zone)
            ends = (
                _instant(event["DTEND"].dt, zone)
                if "DTEND" in event
                else begins + (event["DURATION"].dt if "DURATION" in event else timedelta(0))
            )
        except (KeyError, ValueError):
            raise RotaError(
                f'event "{summary}": it has no usable start or end. Nothing was imported.'
            ) from None
        where = f'event "{summary}" on {begins.astimezone(zone):%a %d %b %Y %H:%M}'
        role, staff_id = _match(event, summary, directory)
        if role is None or staff_id is None:
            unmatched.append(where)
            continue
        if ends <= begins:
            raise RotaError(f"{where}: it ends before it starts. Nothing was imported.")
        recurrence = event.get("RECURRENCE-ID")
        original = _instant(recurrence.dt, zone) if recurrence is not None else begins
        key = f"{event.get('UID', summary)}|{to_db_time(original)}"
        if key in seen:
            continue
        seen.add(key)
        rows.append(ImportRow(role, staff_id, begins, ends, key, where))
    return ReadFile(rows, unmatched, (start, end))


def _match(event: Any, summary: str, directory: Directory) -> tuple[str | None, str | None]:
    head, colon, tail = summary.partition(":")
    role = rota.read_role(head if colon else summary)
    staff_id = directory.find(tail) if colon and tail.strip() else None
    if staff_id is None:
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        for address in [*attendees, event.get("ORGANIZER", "")]:
            staff_id = directory.by_email(str(address)) if address else None
            if staff_id:
                break
    return role, staff_id
