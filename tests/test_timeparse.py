"""Times typed in chat, resolved against a pinned "now" in Europe/London."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from handlers.timeparse import AmbiguousTime, TimeParseError, parse_when, split_leading_time

LONDON = ZoneInfo("Europe/London")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


# Wednesday 14 October 2026, 21:15 BST.
NOW = utc(2026, 10, 14, 20, 15)


def when(text: str, now: datetime = NOW) -> datetime:
    return parse_when(text, now, LONDON)


# --- now --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["now", "NOW", "  Now ", "just now"])
def test_now(text: str) -> None:
    assert when(text) == NOW


def test_result_is_aware_utc() -> None:
    assert when("21:05").tzinfo is UTC
    assert when("2026-10-13T21:10+02:00").tzinfo is UTC


# --- bare HH:MM ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21:05", utc(2026, 10, 14, 20, 5)),  # BST
        ("21.05", utc(2026, 10, 14, 20, 5)),
        ("9:05", utc(2026, 10, 14, 8, 5)),
        ("09:05", utc(2026, 10, 14, 8, 5)),
        ("0:00", utc(2026, 10, 13, 23, 0)),
        ("21:15", NOW),
    ],
)
def test_bare_time_today(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_bare_time_in_winter_is_gmt() -> None:
    assert when("21:05", utc(2026, 12, 2, 21, 15)) == utc(2026, 12, 2, 21, 5)


@pytest.mark.parametrize("text", ["21:16", "21:17"])
def test_bare_time_within_grace_means_now(text: str) -> None:
    assert when(text) == NOW


def test_bare_time_beyond_grace_and_over_12_hours_back_is_refused() -> None:
    with pytest.raises(TimeParseError) as err:
        when("21:18")
    assert "future" in str(err.value)
    assert "yesterday 21:18" in str(err.value)


def test_bare_time_just_after_midnight_means_last_night() -> None:
    after_midnight = utc(2026, 10, 14, 23, 10)  # Thursday 00:10 BST
    assert when("23:50", after_midnight) == utc(2026, 10, 14, 22, 50)
    assert when("00:05", after_midnight) == utc(2026, 10, 14, 23, 5)
    # 11 h 40 min ago: still within the 12-hour look-back.
    assert when("12:30", after_midnight) == utc(2026, 10, 14, 11, 30)


def test_bare_time_more_than_12_hours_back_yesterday_is_refused() -> None:
    after_midnight = utc(2026, 10, 14, 23, 10)
    with pytest.raises(TimeParseError, match="yesterday 11:00"):
        when("11:00", after_midnight)
    morning = utc(2026, 10, 14, 9, 0)  # 10:00 BST
    with pytest.raises(TimeParseError, match="in the future"):
        when("21:00", morning)
    assert when("23:00", morning) == utc(2026, 10, 13, 22, 0)


# "2110" is read now (21:10): see the phrase table.
@pytest.mark.parametrize("text", ["25:00", "24:00", "21:60", "9:5", "21-10", "21:10pm"])
def test_bad_clock_times(text: str) -> None:
    with pytest.raises(TimeParseError, match="couldn't read"):
        when(text)


# --- N ago --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("20 min ago", timedelta(minutes=20)),
        ("20 mins ago", timedelta(minutes=20)),
        ("20min ago", timedelta(minutes=20)),
        ("20 minutes ago", timedelta(minutes=20)),
        ("1 minute ago", timedelta(minutes=1)),
        ("20m ago", timedelta(minutes=20)),
        ("90 MIN AGO", timedelta(minutes=90)),
        ("0 min ago", timedelta(0)),
        ("2 h ago", timedelta(hours=2)),
        ("2h ago", timedelta(hours=2)),
        ("2 hours ago", timedelta(hours=2)),
        ("1 hour ago", timedelta(hours=1)),
        ("2 hrs ago", timedelta(hours=2)),
        ("2hr ago", timedelta(hours=2)),
        ("1h30 ago", timedelta(hours=1, minutes=30)),
        ("1h30m ago", timedelta(hours=1, minutes=30)),
        ("1h 30m ago", timedelta(hours=1, minutes=30)),
        ("1 hour 30 minutes ago", timedelta(hours=1, minutes=30)),
        ("36h ago", timedelta(hours=36)),
    ],
)
def test_ago(text: str, ago: timedelta) -> None:
    assert when(text) == NOW - ago


@pytest.mark.parametrize(
    "text", ["20 min", "ago", "min ago", "20 secs ago", "1h60m ago", "-5 min ago"]
)
def test_bad_ago(text: str) -> None:
    with pytest.raises(TimeParseError, match="couldn't read"):
        when(text)


def test_ago_is_elapsed_time_across_the_autumn_change() -> None:
    # 25 Oct 2026 01:45 GMT (second time round): an hour ago was 01:45 BST.
    now = utc(2026, 10, 25, 1, 45)
    assert when("1h ago", now) == utc(2026, 10, 25, 0, 45)


# --- today / yesterday --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yesterday 23:15", utc(2026, 10, 13, 22, 15)),
        ("Yesterday at 23:15", utc(2026, 10, 13, 22, 15)),
        ("yesterday 1.05", utc(2026, 10, 13, 0, 5)),
        ("yesterday 21:30", utc(2026, 10, 13, 20, 30)),
        ("today 09:00", utc(2026, 10, 14, 8, 0)),
        ("TODAY 21:16", NOW),  # grace
    ],
)
def test_today_and_yesterday(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_today_in_the_future_is_refused() -> None:
    with pytest.raises(TimeParseError, match="'today 22:00' is in the future"):
        when("today 22:00")


# --- weekday + time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fri 21:10", utc(2026, 10, 9, 20, 10)),
        ("friday 21:10", utc(2026, 10, 9, 20, 10)),
        ("fri at 21:10", utc(2026, 10, 9, 20, 10)),
        ("tue 23:00", utc(2026, 10, 13, 22, 0)),
        ("tues 23:00", utc(2026, 10, 13, 22, 0)),
        ("thu 09:00", utc(2026, 10, 8, 8, 0)),
        ("thurs 09:00", utc(2026, 10, 8, 8, 0)),
        ("mon 12:00", utc(2026, 10, 12, 11, 0)),
        ("sat 12:00", utc(2026, 10, 10, 11, 0)),
        ("sunday 12:00", utc(2026, 10, 11, 11, 0)),
        # Today counts when the time has passed ...
        ("wed 21:10", utc(2026, 10, 14, 20, 10)),
        ("Wednesday 21:16", NOW),
        # ... otherwise it's the same day last week.
        ("weds 21:30", utc(2026, 10, 7, 20, 30)),
    ],
)
def test_weekday_and_time(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_weekday_last_week_crosses_clock_change() -> None:
    # Monday 26 Oct 2026 08:00 GMT; "mon 09:00" is last Monday, which was BST.
    assert when("mon 09:00", utc(2026, 10, 26, 8, 0)) == utc(2026, 10, 19, 8, 0)


@pytest.mark.parametrize("text", ["blursday 21:10", "fri", "fri 25:00", "fri 21:10 21:10"])
def test_bad_weekday(text: str) -> None:
    with pytest.raises(TimeParseError, match="couldn't read"):
        when(text)


# --- ISO ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-13T21:10", utc(2026, 10, 13, 20, 10)),  # local BST
        ("2026-10-13 21:10", utc(2026, 10, 13, 20, 10)),
        ("2026-10-13 9:10", utc(2026, 10, 13, 8, 10)),
        ("2026-10-13 at 21:10", utc(2026, 10, 13, 20, 10)),
        ("2026-10-13T21:10:30", utc(2026, 10, 13, 20, 10, 30)),
        ("2026-10-13T21:10:00", utc(2026, 10, 13, 20, 10)),
        ("2026-03-01 21:10", utc(2026, 3, 1, 21, 10)),  # local GMT
        ("2026-10-13T21:10Z", utc(2026, 10, 13, 21, 10)),
        ("2026-10-13t21:10z", utc(2026, 10, 13, 21, 10)),
        ("2026-10-13T21:10+02:00", utc(2026, 10, 13, 19, 10)),
        ("2026-10-13T21:10:00-0100", utc(2026, 10, 13, 22, 10)),
        ("2026-10-14T20:16Z", NOW),  # grace
    ],
)
def test_iso(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_iso_in_the_future_is_refused() -> None:
    with pytest.raises(TimeParseError, match="is in the future"):
        when("2026-10-15 09:00")
    with pytest.raises(TimeParseError, match="is in the future"):
        when("2026-10-14T20:30Z")


@pytest.mark.parametrize("text", ["2026-02-30 10:00", "2026-10-13 25:10", "2026-10-13T21:10+25:00"])
def test_iso_impossible_values(text: str) -> None:
    with pytest.raises(TimeParseError, match="isn't a"):
        when(text)


# "13/10/2026 21:10" is read now (day first): see the phrase table.
@pytest.mark.parametrize("text", ["2026-10-13", "13/10/2026", "2026-10-13T", ""])
def test_iso_without_a_time_is_not_read(text: str) -> None:
    with pytest.raises(TimeParseError, match="couldn't read"):
        when(text)


# --- clock changes ------------------------------------------------------------------

SPRING_LATER = utc(2026, 3, 29, 9, 0)  # Sunday 29 March 2026, 10:00 BST


@pytest.mark.parametrize("text", ["01:30", "today 01:30", "sun 01:30", "2026-03-29 01:30", "1.00"])
def test_spring_gap_time_is_refused(text: str) -> None:
    with pytest.raises(TimeParseError) as err:
        when(text, SPRING_LATER)
    message = str(err.value)
    assert "There was no" in message
    assert "clocks went forward" in message


def test_spring_gap_edges_and_explicit_offsets() -> None:
    assert when("00:59", SPRING_LATER) == utc(2026, 3, 29, 0, 59)  # GMT
    assert when("02:00", SPRING_LATER) == utc(2026, 3, 29, 1, 0)  # BST
    # An explicit offset names an instant, so no wall clock is involved.
    assert when("2026-03-29T01:30Z", SPRING_LATER) == utc(2026, 3, 29, 1, 30)


def test_spring_gap_yesterday_is_refused_too() -> None:
    # Monday 30 March 00:30 BST: "01:30" would be yesterday's, which never happened.
    with pytest.raises(TimeParseError, match="There was no 01:30"):
        when("01:30", utc(2026, 3, 29, 23, 30))


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        # 25 Oct 2026: 01:30 happened at 00:30Z (BST) and again at 01:30Z (GMT). When only
        # one of them is past, that is the one.
        (utc(2026, 10, 25, 0, 45), "01:30", utc(2026, 10, 25, 0, 30)),  # 01:45 BST
        (utc(2026, 10, 25, 1, 10), "01:30", utc(2026, 10, 25, 0, 30)),  # GMT one is ahead
        (utc(2026, 10, 25, 0, 45), "sun 01:30", utc(2026, 10, 25, 0, 30)),
        (utc(2026, 10, 25, 0, 45), "2026-10-25 01:30", utc(2026, 10, 25, 0, 30)),
        # An offset says which.
        (utc(2026, 10, 25, 10, 0), "2026-10-25 01:30+01:00", utc(2026, 10, 25, 0, 30)),
        (utc(2026, 10, 25, 10, 0), "2026-10-25 01:30+00:00", utc(2026, 10, 25, 1, 30)),
        # Unambiguous times either side of the repeated hour.
        (utc(2026, 10, 25, 10, 0), "00:30", utc(2026, 10, 24, 23, 30)),
        (utc(2026, 10, 25, 10, 0), "02:30", utc(2026, 10, 25, 2, 30)),
    ],
)
def test_autumn_repeated_hour_with_one_past_reading(
    now: datetime, text: str, expected: datetime
) -> None:
    assert when(text, now) == expected


# Before, the latest past of the two was taken silently; now the person is asked.
@pytest.mark.parametrize(
    ("now", "text"),
    [
        (utc(2026, 10, 25, 1, 45), "01:30"),  # 01:45 GMT, both readings past
        (utc(2026, 10, 25, 10, 0), "01:30"),
        (utc(2026, 10, 25, 10, 0), "today 01:30"),
        (utc(2026, 10, 25, 10, 0), "2026-10-25 01:30"),
        (utc(2026, 10, 26, 10, 0), "yesterday 01:30"),
        (utc(2026, 10, 25, 10, 0), "half one"),
        (utc(2026, 10, 25, 10, 0), "1.30am"),
    ],
)
def test_autumn_repeated_hour_both_past_is_asked(now: datetime, text: str) -> None:
    with pytest.raises(AmbiguousTime) as err:
        when(text, now)
    ambiguous = err.value
    assert ambiguous.said == text
    assert [c.when for c in ambiguous.choices] == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 30),
    ]
    assert [c.label for c in ambiguous.choices] == ["01:30 BST", "01:30 GMT"]
    assert "the clocks went back on Sun 25 Oct, so 01:30 came twice" in str(ambiguous)
    # Each choice is typed as words that read back as exactly that instant.
    for choice in ambiguous.choices:
        assert when(choice.typed, now) == choice.when
    assert isinstance(ambiguous, TimeParseError)  # callers that only refuse still refuse


# --- inputs -------------------------------------------------------------------------


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError) as err:
        parse_when("now", datetime(2026, 10, 14, 20, 15), LONDON)
    assert not isinstance(err.value, TimeParseError)
    with pytest.raises(ValueError):
        split_leading_time(["now"], datetime(2026, 10, 14, 20, 15), LONDON)


def test_now_in_another_zone_is_accepted() -> None:
    assert parse_when("21:05", NOW.astimezone(LONDON), LONDON) == utc(2026, 10, 14, 20, 5)


def test_unreadable_message_quotes_input_and_lists_formats() -> None:
    with pytest.raises(TimeParseError) as err:
        when("blah")
    assert str(err.value) == (
        "I couldn't read 'blah' as a time. Try 21:10, now, 20 min ago, 2h ago, "
        "yesterday 23:15, Fri 21:10 or 2026-10-23 21:10."
    )


def test_time_parse_error_is_a_value_error() -> None:
    assert issubclass(TimeParseError, ValueError)


# --- split_leading_time -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "expected", "rest"),
    [
        (["yesterday", "23:15", "left", "after"], utc(2026, 10, 13, 22, 15), ["left", "after"]),
        (["20", "min", "ago", "x"], NOW - timedelta(minutes=20), ["x"]),
        (["Fri", "21:10", "rest"], utc(2026, 10, 9, 20, 10), ["rest"]),
        (
            ["21:05", "left", "after", "a", "row"],
            utc(2026, 10, 14, 20, 5),
            ["left", "after", "a", "row"],
        ),
        (["now"], NOW, []),
        (["2h", "ago"], NOW - timedelta(hours=2), []),
        (["1h", "30m", "ago", "x"], NOW - timedelta(hours=1, minutes=30), ["x"]),
        (["20min", "ago", "20", "min", "ago"], NOW - timedelta(minutes=20), ["20", "min", "ago"]),
        (["2026-10-13T21:10Z", "x"], utc(2026, 10, 13, 21, 10), ["x"]),
        (["yesterday", "at", "23:15", "x"], utc(2026, 10, 13, 22, 15), ["x"]),
    ],
)
def test_split_leading_time(tokens: list[str], expected: datetime, rest: list[str]) -> None:
    original = list(tokens)
    assert split_leading_time(tokens, NOW, LONDON) == (expected, rest)
    assert tokens == original  # the caller's list is left alone


def test_split_iso_date_and_time_tokens() -> None:
    now = utc(2026, 10, 24, 12, 0)
    assert split_leading_time(["2026-10-23", "21:10", "x"], now, LONDON) == (
        utc(2026, 10, 23, 20, 10),
        ["x"],
    )


@pytest.mark.parametrize(
    ("tokens", "quoted"),
    [(["blah", "21:10"], "blah"), (["yesterday", "left"], "yesterday"), (["Fri", "x"], "Fri")],
)
def test_split_without_a_leading_time(tokens: list[str], quoted: str) -> None:
    with pytest.raises(TimeParseError) as err:
        split_leading_time(tokens, NOW, LONDON)
    assert str(err.value).startswith(f"I couldn't read '{quoted}' as a time. Try 21:10, now")


def test_split_with_no_tokens() -> None:
    with pytest.raises(TimeParseError, match="I need a time"):
        split_leading_time([], NOW, LONDON)


def test_split_passes_on_a_refusal_rather_than_falling_back() -> None:
    # "21:30" reads as a time but is in the future: say so, not "couldn't read".
    with pytest.raises(TimeParseError, match="in the future"):
        split_leading_time(["21:30", "left"], NOW, LONDON)
    with pytest.raises(TimeParseError, match="There was no 01:30"):
        split_leading_time(["01:30", "left"], utc(2026, 3, 29, 9, 0), LONDON)


def test_absurd_dates_are_refused_not_crashed():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import pytest

    from handlers.timeparse import TimeParseError, parse_when

    now = datetime(2026, 10, 23, 20, 0, tzinfo=UTC)
    with pytest.raises(TimeParseError):
        parse_when("0001-01-01T00:00+23:59", now, ZoneInfo("Europe/London"))
    with pytest.raises(TimeParseError, match="more than a year ago"):
        parse_when("2020-01-01 10:00", now, ZoneInfo("Europe/London"))


# --- the phrase table (tests/data/timeparse_phrases.yaml; bench/timeparse_compare.py) ---

TABLE = yaml.safe_load((Path(__file__).parent / "data" / "timeparse_phrases.yaml").read_text())
TABLE_ZONE = ZoneInfo(TABLE["zone"])
TABLE_NOW = datetime.fromisoformat(TABLE["now"]).replace(tzinfo=TABLE_ZONE).astimezone(UTC)


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TABLE_ZONE).astimezone(UTC)


@pytest.mark.parametrize("row", TABLE["phrases"], ids=[r["say"] for r in TABLE["phrases"]])
def test_phrase_table(row: dict[str, Any]) -> None:
    said = row["say"]
    if "means" in row:
        assert parse_when(said, TABLE_NOW, TABLE_ZONE) == _local(row["means"])
    elif "ask" in row:
        with pytest.raises(AmbiguousTime) as err:
            parse_when(said, TABLE_NOW, TABLE_ZONE)
        assert [c.when for c in err.value.choices] == [_local(t) for t in row["ask"]]
        for choice in err.value.choices:  # what the question offers reads back unambiguously
            assert parse_when(choice.typed, TABLE_NOW, TABLE_ZONE) == choice.when
            assert choice.typed in str(err.value)
    else:
        with pytest.raises(TimeParseError) as refused:
            parse_when(said, TABLE_NOW, TABLE_ZONE)
        assert not isinstance(refused.value, AmbiguousTime)
        assert row["refuse"] in str(refused.value)


def test_phrase_table_is_the_size_the_comparison_needs() -> None:
    rows = TABLE["phrases"]
    assert len(rows) >= 40
    assert sum("refuse" in r for r in rows) >= 8
    assert sum("ask" in r for r in rows) >= 2


# --- day after the time, and what a description may start with ----------------------


@pytest.mark.parametrize(
    ("tokens", "expected", "rest"),
    [
        (["21:00", "yesterday", "left"], utc(2026, 10, 13, 20, 0), ["left"]),  # was "today"
        (["9pm", "last", "night", "x"], utc(2026, 10, 13, 20, 0), ["x"]),
        (["quarter", "to", "nine", "left"], utc(2026, 10, 14, 19, 45), ["left"]),
        (["half", "ten", "last", "night", "x"], utc(2026, 10, 13, 21, 30), ["x"]),
        (["yday", "23:15", "x"], utc(2026, 10, 13, 22, 15), ["x"]),
        (["2110", "left"], utc(2026, 10, 14, 20, 10), ["left"]),
        (["13/10", "21:00", "x"], utc(2026, 10, 13, 20, 0), ["x"]),
        # A weekday after the time is the start of what happened, not a day.
        (
            ["21:05", "sat", "on", "the", "wall"],
            utc(2026, 10, 14, 20, 5),
            ["sat", "on", "the", "wall"],
        ),
        (["21:05", "today's", "row"], utc(2026, 10, 14, 20, 5), ["today's", "row"]),
        (
            ["21:05", "2nd", "time", "this", "week"],
            utc(2026, 10, 14, 20, 5),
            ["2nd", "time", "this", "week"],
        ),
        (["21:05", "the", "2nd", "time"], utc(2026, 10, 14, 20, 5), ["the", "2nd", "time"]),
        (["21:05", "13", "oct", "x"], utc(2026, 10, 13, 20, 5), ["x"]),
    ],
)
def test_split_reads_british_forms(tokens: list[str], expected: datetime, rest: list[str]) -> None:
    assert split_leading_time(tokens, NOW, LONDON) == (expected, rest)


def test_split_optional_time_does_not_read_numbers() -> None:
    # /update Jay 1000 leaflets out: a count, not 10:00.
    with pytest.raises(TimeParseError, match="couldn't read"):
        split_leading_time(["1000", "leaflets"], NOW, LONDON, optional=True)
    with pytest.raises(TimeParseError, match="couldn't read"):
        split_leading_time(["3", "officers"], NOW, LONDON, optional=True)
    assert split_leading_time(["21:10", "rang"], NOW, LONDON, optional=True) == (
        utc(2026, 10, 14, 20, 10),
        ["rang"],
    )


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        # Just after midnight, "last night 23:15" is 75 minutes ago.
        (utc(2026, 10, 14, 23, 30), "last night 23:15", utc(2026, 10, 14, 22, 15)),
        (utc(2026, 10, 15, 8, 0), "last night 23:15", utc(2026, 10, 14, 22, 15)),
        (utc(2026, 10, 15, 8, 0), "last night 02:00", utc(2026, 10, 15, 1, 0)),
        (utc(2026, 10, 15, 8, 0), "last night at 11", utc(2026, 10, 14, 22, 0)),
        (utc(2026, 10, 15, 8, 0), "last night 10:30", utc(2026, 10, 14, 21, 30)),
        (utc(2026, 10, 15, 8, 0), "last night half twelve", utc(2026, 10, 14, 23, 30)),
    ],
)
def test_last_night(now: datetime, text: str, expected: datetime) -> None:
    assert when(text, now) == expected


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (utc(2026, 10, 14, 20, 15), "9", utc(2026, 10, 14, 20, 0)),  # 15 min ago
        (utc(2026, 10, 14, 9, 30), "at 10", utc(2026, 10, 14, 9, 0)),
        (utc(2026, 12, 2, 1, 0), "12am", utc(2026, 12, 2, 0, 0)),
        (utc(2026, 12, 2, 13, 0), "12pm", utc(2026, 12, 2, 12, 0)),
        (utc(2026, 12, 2, 13, 0), "twenty to one", utc(2026, 12, 2, 12, 40)),
        (utc(2026, 12, 2, 13, 0), "5 past 12", utc(2026, 12, 2, 12, 5)),
    ],
)
def test_hours_without_am_or_pm(now: datetime, text: str, expected: datetime) -> None:
    assert when(text, now) == expected


def test_bare_hour_long_past_is_asked_not_guessed() -> None:
    afternoon = utc(2026, 12, 2, 15, 0)  # 15:00 GMT: 09:00 today or 21:00 last night?
    with pytest.raises(AmbiguousTime) as err:
        when("9", afternoon)
    assert [c.label for c in err.value.choices] == ["09:00 today", "21:00 yesterday"]
    assert [c.typed for c in err.value.choices] == ["today 09:00", "yesterday 21:00"]
    assert str(err.value) == (
        "'9' could be 09:00 today or 21:00 yesterday. Which did you mean? "
        "Type today 09:00 or yesterday 21:00 instead."
    )


def test_spoken_time_takes_the_latest_past_even_when_long_ago() -> None:
    # "half ten" at 15:00 is this morning's: the latest past 10:30 or 22:30.
    assert when("half ten", utc(2026, 12, 2, 15, 0)) == utc(2026, 12, 2, 10, 30)


def test_day_first_dates_without_a_year_are_the_latest_past() -> None:
    # 10/12 is 10 December: this year's is ahead, so last year's.
    assert when("10/12 21:00", NOW) == utc(2025, 12, 10, 21, 0)
    with pytest.raises(TimeParseError, match="more than a year ago"):
        when("10/12/2024 21:00", NOW)


def test_spring_gap_in_british_forms_is_refused() -> None:
    with pytest.raises(TimeParseError, match="There was no 01:30"):
        when("half one", SPRING_LATER)
    with pytest.raises(TimeParseError, match="There was no 01:30"):
        when("last night 1.30am", SPRING_LATER)
