"""Local-time schedules that fire once per local day, whatever the clock does.

A report "at 08:30 every day" means 08:30 on the area's wall clock. Its run is keyed by the
local date, so a restart, a slow sweep or the autumn clock change (when 01:30 happens twice)
still gives one run per day; a wall-clock time the spring change skips runs at the first
instant after it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def occurrence(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of local `at` on `day`: the first of two at the autumn change; a time the
    spring change skips maps forward by the hour that was skipped."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def _matches(day: date, weekday: str | None) -> bool:
    return weekday is None or WEEKDAYS[day.weekday()] == weekday


def latest(now: datetime, at: time, zone: ZoneInfo, weekday: str | None = None) -> date:
    """The local date of the most recent occurrence at or before `now`."""
    day = now.astimezone(zone).date()
    for _ in range(8):
        if _matches(day, weekday) and occurrence(day, at, zone) <= now:
            return day
        day -= timedelta(days=1)
    raise AssertionError("a weekly schedule recurs within 8 days")


def following(day: date, at: time, zone: ZoneInfo, weekday: str | None = None) -> date:
    """The local date of the first occurrence after `day`."""
    day += timedelta(days=1)
    while not _matches(day, weekday):
        day += timedelta(days=1)
    return day
