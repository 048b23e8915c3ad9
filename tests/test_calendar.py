"""AreaCalendar: pinned dates around clock changes and bank holidays, no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from config.calendar import AreaCalendar, calendar_for

LONDON = ZoneInfo("Europe/London")
JERSEY_TZ = ZoneInfo("Europe/Jersey")

ENGLAND = AreaCalendar(tz=LONDON, holiday_country="GB", holiday_subdiv="ENG")
JERSEY = AreaCalendar(tz=JERSEY_TZ, holiday_country="JE")


def london(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A London wall time (never an ambiguous one in these tests)."""
    return datetime(y, mo, d, h, mi, tzinfo=LONDON)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# --- elapsed hours and days across clock changes ----------------------------------


def test_72_hours_over_autumn_change_is_0900_local_on_tuesday() -> None:
    # RULES.md: Saturday 10:00 BST + 72 elapsed hours = Tuesday 09:00 GMT.
    due = ENGLAND.add_hours(london(2026, 10, 24, 10), 72)
    assert due == utc(2026, 10, 27, 9)
    assert ENGLAND.local(due).replace(tzinfo=None) == datetime(2026, 10, 27, 9, 0)


def test_72_hours_over_spring_change_is_1100_local_on_tuesday() -> None:
    due = ENGLAND.add_hours(london(2026, 3, 28, 10), 72)
    assert ENGLAND.local(due).replace(tzinfo=None) == datetime(2026, 3, 31, 11, 0)
    assert due == utc(2026, 3, 31, 10)


def test_add_hours_returns_utc_and_accepts_fractions() -> None:
    due = ENGLAND.add_hours(london(2026, 7, 1, 12), 1.5)
    assert due.tzinfo is UTC
    assert due == utc(2026, 7, 1, 12, 30)


def test_within_n_days_is_elapsed_24_hour_blocks() -> None:
    assert ENGLAND.add_days(london(2026, 10, 24, 10), 3) == utc(2026, 10, 27, 9)
    assert ENGLAND.add_days(london(2026, 3, 28, 10), 3) == utc(2026, 3, 31, 10)
    assert ENGLAND.add_days(london(2026, 7, 1, 12), 28) == utc(2026, 7, 29, 11)


def test_local_shows_the_areas_wall_clock() -> None:
    assert ENGLAND.local(utc(2026, 7, 1, 11)).hour == 12  # BST
    assert ENGLAND.local(utc(2026, 12, 1, 11)).hour == 11  # GMT
    assert JERSEY.local(utc(2026, 7, 1, 11)).hour == 12  # Jersey keeps the same clock


# --- bank holidays ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 25), True),  # Christmas, Friday
        (date(2026, 12, 28), True),  # Boxing Day falls on Saturday: substitute Monday
        (date(2026, 12, 29), False),
        (date(2027, 3, 26), True),  # Good Friday
        (date(2027, 3, 29), True),  # Easter Monday
        (date(2026, 5, 4), True),  # Early May bank holiday
        (date(2026, 5, 5), False),
        (date(2028, 5, 9), False),  # Liberation Day is Jersey's only
    ],
)
def test_england_bank_holidays(day: date, expected: bool) -> None:
    assert ENGLAND.is_bank_holiday(day) is expected


def test_liberation_day_is_a_jersey_holiday_only() -> None:
    for day in (date(2028, 5, 9), date(2025, 5, 9)):  # a Tuesday, a Friday
        assert JERSEY.is_bank_holiday(day)
        assert not JERSEY.is_working_day(day)
        assert not ENGLAND.is_bank_holiday(day)
        assert ENGLAND.is_working_day(day)
    assert JERSEY.holiday_name(date(2028, 5, 9)) == "Liberation Day"


def test_holiday_names() -> None:
    assert "Boxing Day" in (ENGLAND.holiday_name(date(2026, 12, 28)) or "")
    assert ENGLAND.holiday_name(date(2026, 12, 29)) is None


def test_holidays_object_is_shared_between_calendars() -> None:
    other = calendar_for("GB", "ENG", "Europe/London")
    assert other._holidays() is ENGLAND._holidays()


# --- working days -----------------------------------------------------------------


def test_working_day_excludes_weekends_and_holidays() -> None:
    assert ENGLAND.is_working_day(date(2026, 10, 16))  # Friday
    assert not ENGLAND.is_working_day(date(2026, 10, 17))  # Saturday
    assert not ENGLAND.is_working_day(date(2026, 10, 18))  # Sunday
    assert not ENGLAND.is_working_day(date(2026, 12, 25))


def test_next_working_day_is_strictly_after() -> None:
    assert ENGLAND.next_working_day(date(2026, 10, 14)) == date(2026, 10, 15)
    assert ENGLAND.next_working_day(date(2026, 10, 16)) == date(2026, 10, 19)
    assert ENGLAND.next_working_day(date(2026, 12, 24)) == date(2026, 12, 29)
    assert ENGLAND.next_working_day(date(2027, 3, 25)) == date(2027, 3, 30)


def test_dates_not_datetimes() -> None:
    with pytest.raises(TypeError):
        ENGLAND.is_working_day(london(2026, 10, 16, 12))


@pytest.mark.parametrize(
    ("event", "n", "due"),
    [
        # Christmas 2026: Fri 25 and Mon 28 (substitute Boxing Day) are holidays.
        (london(2026, 12, 24, 14), 1, utc(2026, 12, 29, 17)),
        (london(2026, 12, 24, 14), 3, utc(2026, 12, 31, 17)),
        # ... and New Year's Day 2027 is a Friday.
        (london(2026, 12, 24, 14), 5, utc(2027, 1, 5, 17)),
        # Easter 2027 (clocks go forward on Easter Sunday): Tue 17:00 BST.
        (london(2027, 3, 25, 15), 1, utc(2027, 3, 30, 16)),
        # Early May bank holiday, Mon 4 May 2026.
        (london(2026, 5, 1, 10), 1, utc(2026, 5, 5, 16)),
        # The event's own day doesn't count, even when it's early in the day.
        (london(2026, 10, 14, 7), 1, utc(2026, 10, 15, 16)),
        # An event at the weekend or on a bank holiday counts from the next working day.
        (london(2026, 10, 17, 12), 1, utc(2026, 10, 19, 16)),
        (london(2026, 5, 4, 12), 1, utc(2026, 5, 5, 16)),
        # Multi-agency meeting: 5 working days from Wed 14 Oct = Wed 21 Oct.
        (london(2026, 10, 14, 12), 5, utc(2026, 10, 21, 16)),
    ],
)
def test_add_working_days_england(event: datetime, n: int, due: datetime) -> None:
    assert ENGLAND.add_working_days(event, n) == due


def test_add_working_days_uses_the_local_date_not_the_utc_date() -> None:
    # 00:30 BST on Tuesday is still Monday in UTC.
    event = london(2026, 10, 13, 0, 30)
    assert event.astimezone(UTC).day == 12
    assert ENGLAND.add_working_days(event, 1) == utc(2026, 10, 14, 16)


def test_add_working_days_over_liberation_day() -> None:
    # 2028: Liberation Day is Tuesday 9 May.
    assert JERSEY.add_working_days(london(2028, 5, 8, 12), 1) == utc(2028, 5, 10, 16)
    assert ENGLAND.add_working_days(london(2028, 5, 8, 12), 1) == utc(2028, 5, 9, 16)
    # 2025: Liberation Day is Friday 9 May.
    assert JERSEY.add_working_days(london(2025, 5, 8, 12), 1) == utc(2025, 5, 12, 16)
    assert ENGLAND.add_working_days(london(2025, 5, 8, 12), 1) == utc(2025, 5, 9, 16)


def test_add_working_days_needs_at_least_one() -> None:
    with pytest.raises(ValueError):
        ENGLAND.add_working_days(london(2026, 10, 14, 12), 0)


# --- office hours -----------------------------------------------------------------


@pytest.mark.parametrize("day", [(2026, 10, 14), (2026, 12, 2)], ids=["BST", "GMT"])
@pytest.mark.parametrize(
    ("h", "mi", "expected"),
    [(8, 59, False), (9, 0, True), (16, 59, True), (17, 0, False)],
)
def test_office_hours_boundaries(
    day: tuple[int, int, int], h: int, mi: int, expected: bool
) -> None:
    # Wednesdays 14 Oct 2026 (BST) and 2 Dec 2026 (GMT).
    assert ENGLAND.in_office_hours(london(*day, h, mi)) is expected


def test_office_hours_are_local_wall_time() -> None:
    # 08:30Z is 09:30 BST (open) in summer but 08:30 GMT (closed) in winter.
    assert ENGLAND.in_office_hours(utc(2026, 10, 14, 8, 30))
    assert not ENGLAND.in_office_hours(utc(2026, 12, 2, 8, 30))


def test_not_office_hours_on_bank_holidays_weekends_or_closures() -> None:
    assert not ENGLAND.in_office_hours(london(2026, 5, 4, 12))  # Early May bank holiday
    assert not ENGLAND.in_office_hours(london(2026, 10, 17, 12))  # Saturday
    assert not JERSEY.in_office_hours(london(2028, 5, 9, 12))  # Liberation Day
    assert ENGLAND.in_office_hours(london(2028, 5, 9, 12))


def test_office_open_and_close_on_are_utc_instants() -> None:
    assert ENGLAND.office_open_on(date(2026, 10, 14)) == utc(2026, 10, 14, 8)
    assert ENGLAND.office_close_on(date(2026, 10, 14)) == utc(2026, 10, 14, 16)
    assert ENGLAND.office_open_on(date(2026, 12, 2)) == utc(2026, 12, 2, 9)
    assert ENGLAND.office_close_on(date(2026, 12, 2)).tzinfo is UTC


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (london(2026, 10, 14, 11), london(2026, 10, 14, 11)),  # open: itself
        (london(2026, 10, 14, 7), london(2026, 10, 14, 9)),  # before opening
        (london(2026, 10, 14, 17), london(2026, 10, 15, 9)),  # at closing
        (london(2026, 10, 16, 20), london(2026, 10, 19, 9)),  # Friday evening
        (london(2026, 12, 24, 18), london(2026, 12, 29, 9)),  # Christmas
    ],
)
def test_next_office_open(at: datetime, expected: datetime) -> None:
    assert ENGLAND.next_office_open(at) == expected
    assert ENGLAND.next_office_open(at).tzinfo is UTC


# --- same / next working day ------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "due"),
    [
        (london(2026, 10, 14, 11), utc(2026, 10, 14, 16)),  # in office hours: today
        (london(2026, 10, 14, 16, 59), utc(2026, 10, 14, 16)),
        (london(2026, 10, 14, 19), utc(2026, 10, 15, 16)),  # evening: tomorrow
        (london(2026, 10, 14, 17), utc(2026, 10, 15, 16)),  # closing time is out of hours
        (london(2026, 10, 16, 18, 30), utc(2026, 10, 19, 16)),  # Friday evening: Monday
        (london(2026, 10, 17, 12), utc(2026, 10, 19, 16)),  # Saturday: Monday
        (london(2026, 10, 14, 7), utc(2026, 10, 14, 16)),  # before opening: that day
        (london(2027, 3, 25, 20), utc(2027, 3, 30, 16)),  # Thursday before Good Friday
    ],
)
def test_same_working_day(event: datetime, due: datetime) -> None:
    assert ENGLAND.same_working_day(event) == due


@pytest.mark.parametrize(
    ("event", "due"),
    [
        (london(2026, 10, 14, 11), utc(2026, 10, 15, 16)),
        (london(2026, 10, 16, 10), utc(2026, 10, 19, 16)),  # Friday: Monday
        (london(2026, 10, 16, 22), utc(2026, 10, 19, 16)),
        # RULES.md: before opening on a working day, the next working day is that date.
        (london(2026, 10, 14, 7), utc(2026, 10, 14, 16)),
        (london(2026, 10, 14, 9), utc(2026, 10, 15, 16)),  # open already: the day after
        (london(2026, 12, 29, 3), utc(2026, 12, 29, 17)),  # 03:00 after Christmas: that day
        (london(2026, 12, 28, 3), utc(2026, 12, 29, 17)),  # Boxing Day observed: Tuesday
        (london(2027, 3, 29, 3), utc(2027, 3, 30, 16)),  # Easter Monday: Tuesday, BST
        (london(2026, 12, 24, 10), utc(2026, 12, 29, 17)),  # Christmas: Tuesday
        # Friday before the autumn change: Monday 17:00 is GMT.
        (london(2026, 10, 23, 10), utc(2026, 10, 26, 17)),
    ],
)
def test_next_working_day_deadline(event: datetime, due: datetime) -> None:
    assert ENGLAND.next_working_day_deadline(event) == due


# --- hours until the next working day (RHI-EDT) -----------------------------------


@pytest.mark.parametrize(
    ("at", "hours"),
    [
        (london(2026, 10, 16, 20), 61),  # Friday 20:00 -> Monday 09:00
        (london(2026, 10, 20, 20), 13),  # Tuesday 20:00 -> Wednesday 09:00
        # Thursday before Good Friday 2027 -> Tuesday 09:00; the clocks go forward
        # on Easter Sunday, so 108 elapsed hours, not 109.
        (london(2027, 3, 25, 20), 108),
        # Friday before the autumn change: Monday 09:00 GMT is 62 elapsed hours.
        (london(2026, 10, 23, 20), 62),
        (london(2026, 10, 14, 7), 2),  # before opening: today's opening
        (london(2026, 10, 14, 10), 23),  # in office hours: tomorrow's opening
        (london(2026, 12, 24, 20), 109),  # Christmas Eve -> Tuesday 29th
    ],
)
def test_hours_until_next_working_day(at: datetime, hours: float) -> None:
    assert ENGLAND.hours_until_next_working_day(at) == pytest.approx(hours)


def test_hours_until_next_working_day_jersey_liberation_day() -> None:
    # Monday 8 May 2028 20:00 -> Wednesday 09:00 in Jersey, Tuesday in England.
    assert JERSEY.hours_until_next_working_day(london(2028, 5, 8, 20)) == 37
    assert ENGLAND.hours_until_next_working_day(london(2028, 5, 8, 20)) == 13


# --- local closures and configuration ---------------------------------------------


def test_extra_closures_are_honoured() -> None:
    closed = AreaCalendar(
        tz=LONDON,
        holiday_country="GB",
        holiday_subdiv="ENG",
        extra_closures=frozenset({date(2026, 12, 23)}),
    )
    assert not closed.is_working_day(date(2026, 12, 23))
    assert not closed.is_bank_holiday(date(2026, 12, 23))  # closed, but not a bank holiday
    assert not closed.in_office_hours(london(2026, 12, 23, 12))
    assert closed.next_working_day(date(2026, 12, 22)) == date(2026, 12, 24)
    assert closed.add_working_days(london(2026, 12, 22, 12), 1) == utc(2026, 12, 24, 17)
    assert closed.same_working_day(london(2026, 12, 22, 18)) == utc(2026, 12, 24, 17)
    assert ENGLAND.is_working_day(date(2026, 12, 23))


def test_custom_office_hours() -> None:
    late = calendar_for("GB", "ENG", "Europe/London", office_open=time(10), office_close=time(18))
    assert not late.in_office_hours(london(2026, 10, 14, 9, 30))
    assert late.in_office_hours(london(2026, 10, 14, 17, 30))
    assert late.office_close_on(date(2026, 10, 14)) == utc(2026, 10, 14, 17)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"office_open": time(17), "office_close": time(9)},
        {"office_weekdays": frozenset()},
        {"office_weekdays": frozenset({7})},
        {"holiday_country": "XX"},
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"tz": LONDON, "holiday_country": "GB", **kwargs}
    with pytest.raises(ValueError):
        AreaCalendar(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: ENGLAND.local(naive),
        lambda naive: ENGLAND.in_office_hours(naive),
        lambda naive: ENGLAND.next_office_open(naive),
        lambda naive: ENGLAND.add_hours(naive, 1),
        lambda naive: ENGLAND.add_days(naive, 1),
        lambda naive: ENGLAND.add_working_days(naive, 1),
        lambda naive: ENGLAND.same_working_day(naive),
        lambda naive: ENGLAND.next_working_day_deadline(naive),
        lambda naive: ENGLAND.hours_until_next_working_day(naive),
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError):
        call(datetime(2026, 10, 14, 12, 0))
