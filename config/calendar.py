"""Working days, office hours and elapsed-time deadlines for one area.

Counting follows RULES.md ("How to count"):
- "N hours" / "within N days" are elapsed time, so arithmetic is done in UTC and a
  clock change never adds or removes an hour.
- "N working days" skip the event's own day and end at office close on the Nth
  working day after it.
- "Same working day" and "next working day": an event before opening on a working day
  counts that day (due at its close).
- Working days are the office weekdays less the area's bank holidays (from the
  ``holidays`` package) and any local closures.

Every datetime in or out is timezone-aware; results are in UTC. Show them to
people with ``AreaCalendar.local``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# A week of non-working days is normal (Christmas); a year of them means the
# calendar is misconfigured, and looping for ever would hang a reminder worker.
_MAX_SEARCH_DAYS = 366


@lru_cache(maxsize=32)  # a handful of areas; bounded all the same
def _holidays_for(country: str, subdiv: str | None) -> holidays.HolidayBase:
    """One holidays object per (country, subdiv), shared by every calendar.

    The object adds years lazily the first time a date in that year is queried,
    so it is never built for a fixed range that a long-running bot outlives.
    """
    try:
        return holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as exc:
        raise ValueError(f"no holiday calendar for {country!r} / {subdiv!r}") from exc


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at!r}")


def _require_date(d: date) -> None:
    # datetime is a subclass of date: a UTC datetime passed here would silently
    # give the wrong local day around midnight, so make the caller say which day.
    if isinstance(d, datetime):
        raise TypeError("pass a local date (use AreaCalendar.local(at).date()), not a datetime")


@dataclass(frozen=True)
class AreaCalendar:
    tz: ZoneInfo
    holiday_country: str
    holiday_subdiv: str | None = None
    office_open: time = time(9, 0)
    office_close: time = time(17, 0)
    office_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    extra_closures: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.office_open < self.office_close:
            raise ValueError("office_open must be before office_close")
        if not self.office_weekdays or not self.office_weekdays <= set(range(7)):
            raise ValueError("office_weekdays must be a non-empty set of 0 (Mon) .. 6 (Sun)")
        # Fail at configuration time, not at the first reminder.
        _holidays_for(self.holiday_country, self.holiday_subdiv)

    # --- days -----------------------------------------------------------------

    def _holidays(self) -> holidays.HolidayBase:
        return _holidays_for(self.holiday_country, self.holiday_subdiv)

    def is_bank_holiday(self, d: date) -> bool:
        _require_date(d)
        return d in self._holidays()

    def holiday_name(self, d: date) -> str | None:
        _require_date(d)
        return self._holidays().get(d)

    def is_working_day(self, d: date) -> bool:
        _require_date(d)
        return (
            d.weekday() in self.office_weekdays
            and d not in self.extra_closures
            and not self.is_bank_holiday(d)
        )

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        _require_date(d)
        day = d
        for _ in range(_MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days after {d}")

    # --- instants -------------------------------------------------------------

    def local(self, at: datetime) -> datetime:
        _require_aware(at)
        return at.astimezone(self.tz)

    def _local_instant(self, d: date, t: time) -> datetime:
        # Office hours are wall-clock times on a local date; convert once to UTC.
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)

    def office_open_on(self, d: date) -> datetime:
        _require_date(d)
        return self._local_instant(d, self.office_open)

    def office_close_on(self, d: date) -> datetime:
        _require_date(d)
        return self._local_instant(d, self.office_close)

    def in_office_hours(self, at: datetime) -> bool:
        loc = self.local(at)
        return (
            self.is_working_day(loc.date()) and self.office_open <= loc.time() < self.office_close
        )

    def at_work(self, at: datetime) -> bool:
        """Office hours with the closing minute included: a duty due at the close is told then."""
        loc = self.local(at)
        return self.in_office_hours(at) or (
            self.is_working_day(loc.date()) and loc.time() == self.office_close
        )

    def next_office_open(self, at: datetime) -> datetime:
        """Start of the next office-hours period at or after ``at`` (``at`` if already open)."""
        loc = self.local(at)
        today = loc.date()
        if self.is_working_day(today) and loc.time() < self.office_close:
            if loc.time() >= self.office_open:
                return at.astimezone(UTC)
            return self.office_open_on(today)
        return self.office_open_on(self.next_working_day(today))

    # --- deadlines ------------------------------------------------------------

    def add_hours(self, at: datetime, hours: float) -> datetime:
        # Aware arithmetic in a local zone is wall-clock arithmetic in Python;
        # in UTC it is elapsed time, which is what the protocols mean.
        _require_aware(at)
        return at.astimezone(UTC) + timedelta(hours=hours)

    def add_days(self, at: datetime, days: float) -> datetime:
        """ "Within N days": elapsed N x 24 hours, not N calendar dates."""
        return self.add_hours(at, days * 24)

    def add_working_days(self, at: datetime, n: int) -> datetime:
        """Office close on the nth working day after ``at``'s local date (that day not counted)."""
        if n < 1:
            raise ValueError("n working days must be at least 1; use same_working_day for 'today'")
        day = self.local(at).date()
        for _ in range(n):
            day = self.next_working_day(day)
        return self.office_close_on(day)

    def same_working_day(self, at: datetime) -> datetime:
        """Office close today if ``at`` is in office hours, else close of the next office day.

        An event before opening on a working day is due at that day's close: the
        working day it meets next is that same day, and the earlier deadline is
        the safer reading.
        """
        if self.in_office_hours(at):
            return self.office_close_on(self.local(at).date())
        return self.office_close_on(self.local(self.next_office_open(at)).date())

    def next_working_day_deadline(self, at: datetime) -> datetime:
        """Office close on the first working day whose office hours open after ``at``.

        RULES.md "Next working day": for an event before opening on a working day that is
        the same date (03:00 on a Wednesday is due at Wednesday's close); from opening on,
        the working day after.
        """
        loc = self.local(at)
        today = loc.date()
        if self.is_working_day(today) and loc.time() < self.office_open:
            return self.office_close_on(today)
        return self.office_close_on(self.next_working_day(today))

    def hours_until_next_working_day(self, at: datetime) -> float:
        """Elapsed hours from ``at`` to the next office opening strictly after it.

        RHI-EDT: 16-47 h away the out-of-hours worker asks the child; 48 h or more
        they hold the interview. Elapsed, so a clock change counts as it happened.
        """
        opening = self.next_office_open(at)
        if opening <= at:
            # Already open: the next opening is the following working day's.
            opening = self.office_open_on(self.next_working_day(self.local(at).date()))
        return (opening - at).total_seconds() / 3600


def calendar_for(
    country: str,
    subdiv: str | None,
    tz_name: str,
    *,
    office_open: time = time(9, 0),
    office_close: time = time(17, 0),
    extra_closures: frozenset[date] = frozenset(),
) -> AreaCalendar:
    """An AreaCalendar from config strings, e.g. ``calendar_for("JE", None, "Europe/Jersey")``."""
    return AreaCalendar(
        tz=ZoneInfo(tz_name),
        holiday_country=country,
        holiday_subdiv=subdiv,
        office_open=office_open,
        office_close=office_close,
        extra_closures=extra_closures,
    )
