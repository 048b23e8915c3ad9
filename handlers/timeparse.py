"""Read the times carers type in chat ("21:05", "20 min ago", "Fri 21:10", "half ten", ...).

Everything resolves against an injected ``now`` (aware UTC) and the area's time
zone, and comes back as an aware UTC datetime. A time is never accepted in the
future (beyond a small grace for phone clocks running fast). How far in the past
is acceptable is the caller's business.

British forms first: ``10pm``, ``9.15pm``, ``half ten`` and ``quarter to nine`` (the
latest past of the morning and evening one), ``an hour ago``, ``last night 23:15``,
``yday 23:15``, ``21:00 yesterday``, ``2110``, ``23/10 21:00`` (day first),
``midnight``, ``noon``. A time that could mean two instants (an hour the clocks went
back over, or a bare ``9`` long after nine) is never guessed: ``AmbiguousTime`` carries
the choices, each with words that read back as exactly that instant, for the caller to ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# Phones and servers disagree by a minute or so; "21:10" typed at 21:09 means now.
GRACE = timedelta(minutes=2)
# A bare "23:50" typed at 00:10 means last night, but not a time 20 hours ago.
BARE_TIME_LOOKBACK = timedelta(hours=12)
# split_leading_time looks at no more than this many tokens ("quarter to nine last night").
MAX_TIME_TOKENS = 5
# A bare hour ("9", "at 9", "9 o'clock") means the latest one only this soon after it;
# later, the morning and the evening one are both plausible and the person is asked.
BARE_HOUR_CLEAR = timedelta(hours=3)

FORMATS_HINT = "Try 21:10, now, 20 min ago, 2h ago, yesterday 23:15, Fri 21:10 or 2026-10-23 21:10."

_TIME_RE = re.compile(r"(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)")
_HOURS = r"(?:h|hr|hrs|hour|hours)"
_MINUTES = r"(?:m|min|mins|minute|minutes)"
_AGO_RE = re.compile(
    rf"(?:(?P<h>\d{{1,5}})\s*{_HOURS}(?:\s*(?P<hm>[0-5]?\d)\s*{_MINUTES}?)?"
    rf"|(?P<m>\d{{1,6}})\s*{_MINUTES})\s+ago"
)
_ISO_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:t|\s+(?:at\s+)?)"
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<off>z|[+-]\d{2}:?\d{2})?"
)

_WEEKDAY_NAMES = (
    ("mon", "monday"),
    ("tue", "tues", "tuesday"),
    ("wed", "weds", "wednesday"),
    ("thu", "thur", "thurs", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
)
_WEEKDAYS: dict[str, int] = {
    name: number for number, names in enumerate(_WEEKDAY_NAMES) for name in names
}


class TimeParseError(ValueError):
    """A time a carer typed that we can't use; the message is meant to be shown to them."""


@dataclass(frozen=True)
class TimeChoice:
    """One reading of an ambiguous time: the instant, and words that read back as it."""

    when: datetime  # aware UTC
    label: str  # as the question names it: "21:00 yesterday"
    typed: str  # what to type instead: "yesterday 21:00", "2026-10-25 01:30+01:00"


class AmbiguousTime(TimeParseError):
    """A time that could be more than one instant: ask which, never guess.

    ``said`` is the text as typed (a caller can put a choice's ``typed`` in its place),
    ``choices`` the readings, the likelier first.
    """

    def __init__(self, said: str, choices: tuple[TimeChoice, ...], why: str = "") -> None:
        self.said = said
        self.choices = choices
        self.why = why
        options = " or ".join(c.label for c in choices)
        typed = " or ".join(c.typed for c in choices)
        lead = f"'{said}' could be {options}" + (f" ({why})" if why else "")
        super().__init__(f"{lead}. Which did you mean? Type {typed} instead.")


# --- helpers -------------------------------------------------------------------


def _require_utc_now(now: datetime) -> datetime:
    if now.tzinfo is None or now.tzinfo.utcoffset(now) is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def _parse_clock(text: str) -> time | None:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        return None
    return time(int(match["h"]), int(match["m"]))


def _occurrences(d: date, t: time, tz: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the local clock read ``t`` on ``d`` (0, 1 or 2 of them).

    zoneinfo happily builds wall times that never happened; a wall time is real
    only if it survives a round trip through UTC.
    """
    found: list[datetime] = []
    for fold in (0, 1):
        wall = datetime.combine(d, t, tzinfo=tz).replace(fold=fold)
        instant = wall.astimezone(UTC)
        back = instant.astimezone(tz)
        if back.replace(tzinfo=None) == wall.replace(tzinfo=None) and instant not in found:
            found.append(instant)
    return sorted(found)


def _day_words(d: date, today: date) -> tuple[str, str]:
    """(how a question names day ``d``, how a person types it): today, yesterday, or the date."""
    if d == today:
        return "today", "today"
    if d == today - timedelta(days=1):
        return "yesterday", "yesterday"
    return f"on {d:%a %d %b}", d.isoformat()


def _choice(instant: datetime, tz: ZoneInfo, now: datetime) -> TimeChoice:
    """A reading by day and time: '21:00 yesterday', typed 'yesterday 21:00'."""
    local = instant.astimezone(tz)
    named, typed = _day_words(local.date(), now.astimezone(tz).date())
    clock = local.strftime("%H:%M")
    return TimeChoice(instant, f"{clock} {named}", f"{typed} {clock}")


def typed_form(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """How a person would type ``instant`` back ('21:20', 'yesterday 21:20', '2026-10-20 21:20'),
    for a choice that repeats a time already read."""
    local = instant.astimezone(tz)
    _, day = _day_words(local.date(), now.astimezone(tz).date())
    clock = local.strftime("%H:%M")
    return clock if day == "today" else f"{day} {clock}"


def _twice(d: date, t: time, tz: ZoneInfo, past: list[datetime]) -> AmbiguousTime:
    """The autumn change: the wall clock read ``t`` twice and both are past. Ask which."""
    choices = []
    for instant in past:
        local = instant.astimezone(tz)
        offset = local.strftime("%z")
        typed = f"{d.isoformat()} {_hhmm(t)}{offset[:3]}:{offset[3:]}"
        choices.append(TimeChoice(instant, f"{_hhmm(t)} {local.strftime('%Z')}", typed))
    return AmbiguousTime(
        "", tuple(choices), f"the clocks went back on {d:%a %d %b}, so {_hhmm(t)} came twice"
    )


def _past_occurrences(d: date, t: time, tz: ZoneInfo, now: datetime) -> list[datetime]:
    """The readings of local ``t`` on ``d`` not in the future; refuses a time that never was."""
    found = _occurrences(d, t, tz)
    if not found:
        raise TimeParseError(
            f"There was no {_hhmm(t)} on {d:%a %d %b %Y}: the clocks went forward that night. "
            "Please check the time."
        )
    return [instant for instant in found if instant <= now + GRACE]


def _resolve_wall(d: date, t: time, tz: ZoneInfo, now: datetime) -> datetime:
    """The UTC instant of local ``t`` on ``d``.

    Autumn (clock read ``t`` twice): if both are past, AmbiguousTime asks which.
    Spring (clock skipped ``t``): refused, because we can't guess which was meant.
    If every occurrence is in the future the earliest is returned for the caller to refuse.
    """
    past = _past_occurrences(d, t, tz, now)
    if len(past) > 1:
        raise _twice(d, t, tz, past)
    return past[-1] if past else _occurrences(d, t, tz)[0]


def _not_future(when: datetime, now: datetime, said: str) -> datetime:
    if when > now + GRACE:
        raise TimeParseError(
            f"'{said}' is in the future. Give the time it happened, e.g. 21:10 or 20 min ago."
        )
    # Within the grace it means "just now"; never store a future instant.
    return min(when, now)


# --- a time of day: "21:10", "9.15pm", "2110", "half ten", "quarter to nine", "noon" --------

_HOUR_NAMES: tuple[str, ...] = ("one", "two", "three", "four", "five", "six")
_HOUR_NAMES += ("seven", "eight", "nine", "ten", "eleven", "twelve")
_HOUR_WORDS = {word: number for number, word in enumerate(_HOUR_NAMES, start=1)}
_MINUTE_WORDS = {"five": 5, "ten": 10, "quarter": 15, "twenty": 20, "twenty-five": 25, "half": 30}
_HOUR_RE = r"(?P<h>one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|1[0-2]|0?[1-9])"
_MERIDIEM_RE = re.compile(
    r"(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>am|pm|a\.m\.?|p\.m\.?)"
)
_HHMM_RE = re.compile(r"(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)")
_H_TIME_RE = re.compile(r"(?P<h>[01]?\d|2[0-3])h(?P<m>[0-5]\d)")  # 21h10
_HALF_RE = re.compile(rf"half {_HOUR_RE}")
_SPOKEN_RE = re.compile(
    r"(?P<mins>half|quarter|five|ten|twenty|twenty-five|twenty five|[1-5]?\d)"
    rf"(?: (?:minutes?|mins?))? (?P<dir>past|after|to) {_HOUR_RE}"
)
_OCLOCK_RE = re.compile(rf"{_HOUR_RE}(?: ?o'?clock)")
_BARE_HOUR_RE = re.compile(_HOUR_RE)
_NAMED_TIMES = {"midnight": 0, "noon": 12, "midday": 12}


@dataclass(frozen=True)
class _Clock:
    """A time of day as typed: one hour, or the morning and the evening one."""

    hours: tuple[int, ...]  # 0-23; two when am or pm was not said ("half ten")
    minute: int
    bare: bool = False  # "9", "9 o'clock": asked about when it is long past, not taken
    flexible: bool = False  # a 24-hour "10:30" that a night ("last night 10:30") reads as 22:30

    def at(self, hour: int) -> time:
        return time(hour, self.minute)


def _hour_number(word: str) -> int:
    return _HOUR_WORDS.get(word) or int(word)


def _either_half(hour: int, minute: int, bare: bool = False) -> _Clock:
    """Hour 1-12 without am or pm: the morning and the evening reading."""
    return _Clock((hour % 12, hour % 12 + 12), minute, bare=bare)


def _read_clock(text: str, bare_hour: bool) -> _Clock | None:
    """The time of day ``text`` names, None if it isn't one. ``bare_hour``: accept "9"."""
    match = _TIME_RE.fullmatch(text) or _HHMM_RE.fullmatch(text) or _H_TIME_RE.fullmatch(text)
    if match is not None:
        hour = int(match["h"])
        return _Clock((hour,), int(match["m"]), flexible=6 <= hour <= 11)
    if text in _NAMED_TIMES:
        return _Clock((_NAMED_TIMES[text],), 0)
    if match := _MERIDIEM_RE.fullmatch(text):
        hour = int(match["h"]) % 12 + (12 if match["ap"].startswith("p") else 0)
        return _Clock((hour,), int(match["m"] or 0))
    if match := _HALF_RE.fullmatch(text):  # British: "half ten" is 10:30
        return _either_half(_hour_number(match["h"]), 30)
    if match := _SPOKEN_RE.fullmatch(text):
        said = match["mins"].replace(" ", "-")
        minutes = _MINUTE_WORDS.get(said) or int(said)
        hour = _hour_number(match["h"])
        if not 0 < minutes < 60:
            return None
        if match["dir"] == "to":
            hour, minutes = hour - 1, 60 - minutes
        return _either_half(hour, minutes)
    if match := _OCLOCK_RE.fullmatch(text):
        return _either_half(_hour_number(match["h"]), 0, bare=True)
    if bare_hour and (match := _BARE_HOUR_RE.fullmatch(text)):
        return _either_half(_hour_number(match["h"]), 0, bare=True)
    return None


# --- which day: "yesterday", "yday", "last night", "Fri", "23/10", "2026-10-23" ----------


@dataclass(frozen=True)
class _Day:
    day: date | None = None  # a given date
    weekday: int | None = None  # the most recent such weekday (today's if already past)
    night: bool = False  # "last night": the evening before this morning, or its small hours
    evening: bool | None = None  # "tonight" (True), "this morning" (False): am or pm

    def hours(self, clock: _Clock) -> tuple[int, ...]:
        """The clock's hours this day allows (a night or a part of the day picks am or pm)."""
        hours = clock.hours
        if self.night:
            if len(hours) > 1:
                return tuple(h for h in hours if h >= 18 or h < 6)
            if clock.flexible:
                return (hours[0] + 12,)
        elif self.evening is not None and len(hours) > 1:
            return tuple(h for h in hours if (h >= 12) == self.evening)
        elif self.evening and clock.flexible:
            return (hours[0] + 12,)
        return hours


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


def _longest_first(words: object) -> str:
    return "|".join(sorted(map(str, words), key=len, reverse=True))  # type: ignore[call-overload]


_MONTH_RE = rf"(?:{_longest_first(_MONTHS)})"
_WEEKDAY_RE = rf"(?:{_longest_first(_WEEKDAYS)})"
_FULL_WEEKDAY_RE = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL = r"(?:st|nd|rd|th)"
_YEAR = r"(?:\d{4}|\d{2})"
# 23/10, 23-10-2026, 23 Oct, 23rd of October 2026, Oct 23rd, Fri 23 Oct, the 23rd.
# A date with its month: after a time in a command it cannot be the start of a description.
_MONTH_DATE = (
    rf"(?:{_WEEKDAY_RE},? (?:the )?)?"
    rf"(?:[0-3]?\d{_ORDINAL}?(?: of)? {_MONTH_RE}(?:,? \d{{4}})?"
    rf"|{_MONTH_RE} [0-3]?\d{_ORDINAL}?(?:,? \d{{4}})?"
    rf"|[0-3]?\d[/-][01]?\d(?:[/-]{_YEAR})?)"
)
# ... and a day of the month alone ("the 23rd"), which can ("21:05 2nd time this week").
_DATE_PHRASE = rf"{_MONTH_DATE}|(?:{_WEEKDAY_RE},? )?(?:the )?[0-3]?\d{_ORDINAL}"
_NUMERIC_DATE_RE = re.compile(rf"(?P<d>[0-3]?\d)[/-](?P<mo>[01]?\d)(?:[/-](?P<y>{_YEAR}))?")
_DAY_MONTH_RE = re.compile(
    rf"(?P<d>[0-3]?\d){_ORDINAL}?(?: of)? (?P<mon>{_MONTH_RE})(?:,? (?P<y>\d{{4}}))?"
)
_MONTH_DAY_RE = re.compile(
    rf"(?P<mon>{_MONTH_RE}) (?P<d>[0-3]?\d){_ORDINAL}?(?:,? (?P<y>\d{{4}}))?"
)
_ORDINAL_DAY_RE = re.compile(rf"(?:the )?(?P<d>[0-3]?\d){_ORDINAL}")
_WEEKDAY_PREFIX_RE = re.compile(rf"(?P<wd>{_WEEKDAY_RE}),? (?:the )?(?P<rest>.+)")
_TODAY_WORDS = {
    "today": None,
    "tonight": True,
    "this evening": True,
    "this afternoon": True,
    "this morning": False,
}
_YESTERDAY_WORDS = ("yesterday", "yday", "yest")
_DAY_WORDS = (
    r"today|tonight|this (?:morning|afternoon|evening)|yesterday|yday|yest|last night"
    rf"|{_WEEKDAY_RE} night"
)
_DAY_FIRST_RE = re.compile(
    rf"(?:on )?(?P<day>{_DAY_WORDS}|{_DATE_PHRASE}|\d{{4}}-\d{{2}}-\d{{2}}|[a-z]+)"
    r",?(?: at)? (?P<clock>.+)"
)
# After the time only what cannot start a description: "21:05 sat on the wall" is 21:05
# today, not Saturday (a weekday after the time is written in full, or after "on").
_DAY_LAST_RE = re.compile(
    rf"(?P<clock>.+?),? (?P<day>{_DAY_WORDS}|(?:on )?{_FULL_WEEKDAY_RE}|on {_WEEKDAY_RE}"
    rf"|(?:on )?(?:{_MONTH_DATE}))"
)
_DAY_LAST_ALONE_RE = re.compile(
    rf"(?P<clock>.+?),? (?P<day>{_DAY_WORDS}|(?:on )?{_WEEKDAY_RE}|(?:on )?(?:{_DATE_PHRASE}))"
)


def _read_date(text: str, today: date) -> date | None:
    """A date as people write it, day first; without a year, the most recent such date."""
    weekday = None
    if (prefixed := _WEEKDAY_PREFIX_RE.fullmatch(text)) is not None:
        weekday, text = _WEEKDAYS[prefixed["wd"]], prefixed["rest"]
    day = month = year = None
    if match := _NUMERIC_DATE_RE.fullmatch(text):
        day, month, year = int(match["d"]), int(match["mo"]), match["y"]
    elif match := _DAY_MONTH_RE.fullmatch(text) or _MONTH_DAY_RE.fullmatch(text):
        day, month, year = int(match["d"]), _MONTHS[match["mon"]], match["y"]
    elif match := _ORDINAL_DAY_RE.fullmatch(text):
        day = int(match["d"])
    else:
        return None
    try:
        if month is None:  # "the 23rd": this month's, else last month's
            given = today.replace(day=day) if day <= today.day else None
            if given is None:
                last = today.replace(day=1) - timedelta(days=1)
                given = last.replace(day=day)
        elif year is not None:
            full = int(year) + (2000 if len(year) == 2 else 0)
            given = date(full, month, day)
        else:
            given = date(today.year, month, day)
            if given > today:
                given = given.replace(year=today.year - 1)
    except ValueError:
        raise TimeParseError(
            f"'{text}' isn't a real date: give the day first, then the month (23/10). "
            f"{FORMATS_HINT}"
        ) from None
    if weekday is not None and given.weekday() != weekday:
        raise TimeParseError(
            f"{given:%d %b %Y} was a {given:%A}, not a {_WEEKDAY_NAMES[weekday][-1].title()}. "
            "Check the date."
        )
    return given


def _read_day(text: str, today: date) -> _Day | None:
    if text.startswith("on "):
        text = text[3:]
    if text in _TODAY_WORDS:
        return _Day(day=today, evening=_TODAY_WORDS[text])
    if text in _YESTERDAY_WORDS:
        return _Day(day=today - timedelta(days=1))
    if text == "last night":
        return _Day(night=True)
    if text.endswith(" night") and text[:-6] in _WEEKDAYS:  # "thurs night": that evening on
        return _Day(weekday=_WEEKDAYS[text[:-6]], night=True)
    if text in _WEEKDAYS:
        return _Day(weekday=_WEEKDAYS[text])
    if _ISO_DATE_RE.fullmatch(text):
        try:
            return _Day(day=date.fromisoformat(text))
        except ValueError:
            raise TimeParseError(f"'{text}' isn't a real date and time. {FORMATS_HINT}") from None
    given = _read_date(text, today)
    return _Day(day=given) if given is not None else None


_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- from a day and a time of day to the instant ---------------------------------------


def _latest(
    candidates: list[datetime], clock: _Clock, now: datetime, tz: ZoneInfo
) -> datetime | None:
    """The latest past reading; a bare hour long past is asked about instead of taken."""
    past = sorted(c for c in candidates if c <= now + GRACE)
    if not past:
        return None
    best = past[-1]
    if clock.bare and now - best > BARE_HOUR_CLEAR:
        other = [c for c in past if c.astimezone(tz).hour != best.astimezone(tz).hour]
        if other:
            choices = (_choice(best, tz, now), _choice(other[-1], tz, now))
            raise AmbiguousTime("", choices)
    return best


def _on_day(
    d: date, clock: _Clock, hours: tuple[int, ...], now: datetime, tz: ZoneInfo
) -> datetime:
    """Local ``clock`` on ``d`` (the latest past of its hours); the earliest if all are ahead."""
    if len(hours) == 1:
        return _resolve_wall(d, clock.at(hours[0]), tz, now)
    readings: list[datetime] = []
    for hour in hours:
        past = _past_occurrences(d, clock.at(hour), tz, now)
        if len(past) > 1:
            raise _twice(d, clock.at(hour), tz, past)
        readings.extend(past)
    best = _latest(readings, clock, now, tz)
    if best is not None:
        return best
    return min(_occurrences(d, clock.at(hour), tz)[0] for hour in hours)


def _no_day(clock: _Clock, now: datetime, tz: ZoneInfo) -> datetime:
    """A time alone: today's, else (just after midnight) last night's."""
    today = now.astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    if len(clock.hours) == 1:
        t = clock.at(clock.hours[0])
        when = _resolve_wall(today, t, tz, now)
        if when <= now + GRACE:
            return when
        # Today's is still to come: just after midnight "23:50" means last night.
        before = _resolve_wall(yesterday, t, tz, now)
        if now - before <= BARE_TIME_LOOKBACK:
            return before
        raise TimeParseError(
            f"{_hhmm(t)} today is in the future. If you meant yesterday, type yesterday {_hhmm(t)}."
        )
    # "half ten": the latest past 10:30 or 22:30 (a bare "9" is asked about when long past).
    readings: list[datetime] = []
    for d in (today, yesterday):
        for hour in clock.hours:
            past = _past_occurrences(d, clock.at(hour), tz, now)
            if len(past) > 1:
                raise _twice(d, clock.at(hour), tz, past)
            readings.extend(past)
    best = _latest(readings, clock, now, tz)
    assert best is not None  # one of four readings over two days is always past
    return best


def _with_day(day: _Day, clock: _Clock, now: datetime, tz: ZoneInfo) -> datetime:
    today = now.astimezone(tz).date()
    hours = day.hours(clock)
    if not hours:
        raise TimeParseError("That time isn't in the night. Give it as 23:15 or 9pm.")
    if day.day is not None:
        return _on_day(day.day, clock, hours, now, tz)
    if day.weekday is not None and day.night:
        days_back = (today.weekday() - day.weekday) % 7
        return _night_after(today - timedelta(days=days_back), clock, hours, now, tz, step=7)
    if day.weekday is not None:
        days_back = (today.weekday() - day.weekday) % 7
        when = _on_day(today - timedelta(days=days_back), clock, hours, now, tz)
        if when > now + GRACE:
            # Today's is still to come, so it's the same weekday last week.
            when = _on_day(today - timedelta(days=days_back + 7), clock, hours, now, tz)
        return when
    # Last night: the evening of the day before, or the small hours after it.
    return _night_after(today - timedelta(days=1), clock, hours, now, tz, step=1)


def _night_after(
    evening: date, clock: _Clock, hours: tuple[int, ...], now: datetime, tz: ZoneInfo, step: int
) -> datetime:
    """The night that starts on ``evening`` (its evening, or the small hours after it); if
    that is still to come, the one ``step`` days before."""
    readings: list[datetime] = []
    for start in (evening, evening - timedelta(days=step)):
        readings = [
            _on_day(start if hour >= 12 else start + timedelta(days=1), clock, (hour,), now, tz)
            for hour in hours
        ]
        past = [r for r in readings if r <= now + GRACE]
        if past:
            return max(past)
    return min(readings)


def _parse_day_and_clock(
    text: str, now: datetime, tz: ZoneInfo, numbers: bool, last: bool
) -> datetime | None:
    """A time of day, with or without a day before or after it. ``numbers``: "9" is an hour;
    ``last``: nothing follows the text, so "9pm fri" is a Friday (not "9pm", "fri ...")."""
    bare_hour = numbers
    if text.startswith("at "):
        text, bare_hour = text[3:], True
    clock = _read_clock(text, bare_hour)
    if clock is not None:
        return _no_day(clock, now, tz)
    today = now.astimezone(tz).date()
    day_last = _DAY_LAST_ALONE_RE if last else _DAY_LAST_RE
    for match in (_DAY_FIRST_RE.fullmatch(text), day_last.fullmatch(text)):
        if match is None:
            continue
        clock_text = match["clock"]
        if clock_text.startswith("at "):
            clock_text = clock_text[3:]
        clock = _read_clock(clock_text, bare_hour=True)
        day_text = match["day"]
        if clock is None or day_text is None:
            continue
        day = _read_day(day_text, today)
        if day is not None:
            return _with_day(day, clock, now, tz)
    return None


# --- one parser per format; each returns None if the text isn't its shape -------


def _parse_now(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    return now if text in ("now", "just now", "right now") else None


_SPOKEN_AGO = {
    "an hour ago": timedelta(hours=1),
    "a minute ago": timedelta(minutes=1),
    "half an hour ago": timedelta(minutes=30),
    "an hour and a half ago": timedelta(hours=1, minutes=30),
    "a couple of hours ago": timedelta(hours=2),
    "quarter of an hour ago": timedelta(minutes=15),
    "a quarter of an hour ago": timedelta(minutes=15),
}


_NUMBER_WORDS = {
    **_HOUR_WORDS,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "forty five": 45,
    "fifty": 50,
    "ninety": 90,
}
_NUMBER_WORD_RE = re.compile(rf"\b(?:{_longest_first(_NUMBER_WORDS)})\b")
_DAYS_AGO_RE = re.compile(r"(?P<d>\d{1,3}) days? ago")


def _parse_ago(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    if text in _SPOKEN_AGO:
        return now - _SPOKEN_AGO[text]
    if not text.endswith(" ago"):
        return None
    text = _NUMBER_WORD_RE.sub(lambda word: str(_NUMBER_WORDS[word[0]]), text)
    if days := _DAYS_AGO_RE.fullmatch(text):
        return now - timedelta(days=int(days["d"]))
    match = _AGO_RE.fullmatch(text)
    if match is None:
        return None
    if match["m"] is not None:
        delta = timedelta(minutes=int(match["m"]))
    else:
        delta = timedelta(hours=int(match["h"]), minutes=int(match["hm"] or 0))
    return now - delta  # elapsed time, so a clock change in between doesn't matter


def _parse_iso(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    match = _ISO_RE.fullmatch(text)
    if match is None:
        return None
    try:
        d = date.fromisoformat(match["date"])
        t = time(int(match["h"]), int(match["m"]), int(match["s"] or 0))
    except ValueError:
        raise TimeParseError(f"'{text}' isn't a real date and time. {FORMATS_HINT}") from None
    offset = match["off"]
    if offset is None:
        return _resolve_wall(d, t, tz, now)
    # An explicit offset pins the instant, so there's nothing to resolve.
    return datetime.combine(d, t, tzinfo=_fixed_offset(offset)).astimezone(UTC)


def _fixed_offset(text: str) -> tzinfo:
    if text == "z":
        return UTC
    sign = -1 if text.startswith("-") else 1
    hours, minutes = int(text[1:3]), int(text[-2:])
    if hours > 23 or minutes > 59:
        raise TimeParseError(f"'{text}' isn't a time-zone offset. {FORMATS_HINT}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


OLDEST = timedelta(days=366)  # older than this is a typo, not a last-seen time
# "about 9pm", "around half ten": the time as given (a last-seen time is never exact).
_APPROXIMATELY = re.compile(r"^(?:at )?(?:about|around|approx\.?|approximately|roughly) ")


def _try_parse(
    text: str, now: datetime, tz: ZoneInfo, *, numbers: bool = True, last: bool = True
) -> datetime | None:
    """The instant ``text`` names, None if it isn't a time at all.

    ``numbers``: a bare "9" or "2110" is a time (not where the time is optional: "/update
    Jay 1000 leaflets out"); ``last``: nothing follows the text, so a weekday may end it.
    Raises TimeParseError when it *is* a time but can't be used (future, never existed),
    AmbiguousTime when it could be more than one.
    """
    normal = _APPROXIMATELY.sub("", " ".join(text.lower().split()), count=1)
    said = text.strip()
    if not numbers and _HHMM_RE.fullmatch(normal):
        return None  # "/update Jay 1000 leaflets out": a number, not a time
    try:
        when = (
            _parse_now(normal, now, tz)
            or _parse_ago(normal, now, tz)
            or _parse_iso(normal, now, tz)
            or _parse_day_and_clock(normal, now, tz, numbers, last)
        )
    except AmbiguousTime as ambiguous:
        raise AmbiguousTime(said, ambiguous.choices, ambiguous.why) from None
    except TimeParseError:
        raise
    except (OverflowError, ValueError) as exc:
        raise TimeParseError(f"'{said}' isn't a usable time. {FORMATS_HINT}") from exc
    if when is None:
        return None
    if now - when > OLDEST:
        raise TimeParseError(f"'{said}' is more than a year ago. Check the date. {FORMATS_HINT}")
    return _not_future(when, now, said)


# --- public API ----------------------------------------------------------------


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The aware UTC instant a carer meant by ``text``, never later than ``now``.

    Raises TimeParseError (its message for the person) when it can't be used, and its
    subclass AmbiguousTime when it could be more than one instant.
    """
    now = _require_utc_now(now)
    when = _try_parse(text, now, tz)
    if when is None:
        raise TimeParseError(f"I couldn't read '{text.strip()}' as a time. {FORMATS_HINT}")
    return when


def split_leading_time(
    tokens: list[str], now: datetime, tz: ZoneInfo, *, optional: bool = False
) -> tuple[datetime, list[str]]:
    """Take a time off the front of a command's arguments: (when, the rest).

    The longest prefix (up to MAX_TIME_TOKENS) that reads as a time wins, so
    "yesterday 23:15 left" takes two tokens rather than failing on "yesterday", and
    "21:00 yesterday" is yesterday's. ``optional``: the words may not start with a time at
    all ("/update Jay 1000 leaflets out"), so a bare number is not read as one.
    """
    now = _require_utc_now(now)
    if not tokens:
        raise TimeParseError(f"I need a time first. {FORMATS_HINT}")
    for size in range(min(MAX_TIME_TOKENS, len(tokens)), 0, -1):
        text = " ".join(tokens[:size])
        when = _try_parse(text, now, tz, numbers=not optional, last=size == len(tokens))
        if when is not None:
            return when, list(tokens[size:])
    raise TimeParseError(f"I couldn't read '{tokens[0]}' as a time. {FORMATS_HINT}")


# --- times ahead (the rota: covers and swaps are planned, not reported) ----------


DAYS_HINT = "Try today, tomorrow, Sat or 2026-10-24."
AHEAD_HINT = "Try 20:00, tomorrow 08:00, Sat 20:00 or 2026-10-24 20:00."


def parse_day(text: str, now: datetime, tz: ZoneInfo) -> date:
    """A local date: today, tomorrow, a weekday (the next one, today included) or ISO."""
    word = text.strip().lower()
    today = _require_utc_now(now).astimezone(tz).date()
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if word == "yesterday":
        return today - timedelta(days=1)
    if word in _WEEKDAYS:
        return today + timedelta(days=(_WEEKDAYS[word] - today.weekday()) % 7)
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise TimeParseError(f"I couldn't read '{text.strip()}' as a day. {DAYS_HINT}") from None


def _first_wall_after(d: date, t: time, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first instant local ``t`` on ``d`` is read at or after ``after``; refuses a time
    the spring change skipped."""
    found = _occurrences(d, t, tz)
    if not found:
        raise TimeParseError(
            f"There is no {_hhmm(t)} on {d:%a %d %b %Y}: the clocks go forward that night. "
            "Give another time."
        )
    later = [instant for instant in found if instant >= after]
    return later[0] if later else None


def split_time_ahead(
    tokens: list[str], after: datetime, tz: ZoneInfo, now: datetime | None = None
) -> tuple[datetime, list[str]]:
    """Take a time at or after ``after`` off the front of ``tokens``: (when, the rest).

    "20:00" is the next 20:00 (today's, else tomorrow's); "Sat 20:00" the coming Saturday's;
    "tomorrow 08:00", "2026-10-24 20:00", and "now" (which is ``after``). At the autumn
    change a time read twice is the first reading at or after ``after``. Day words (today,
    tomorrow, Sat) count from ``now`` (default ``after``): "Sat 20:00" as the end of a span
    that starts on Sunday is last Saturday's, for the caller to refuse.
    """
    after = _require_utc_now(after)
    now = _require_utc_now(now) if now is not None else after
    if not tokens:
        raise TimeParseError(f"I need a time. {AHEAD_HINT}")
    first = tokens[0].lower()
    if first == "now":
        return after, list(tokens[1:])
    bare = _parse_clock(first)
    if bare is not None:
        day = after.astimezone(tz).date()
        for _ in range(3):
            when = _first_wall_after(day, bare, tz, after)
            if when is not None:
                return when, list(tokens[1:])
            day += timedelta(days=1)
    if len(tokens) >= 2:
        clock = _parse_clock(tokens[1].lower())
        if clock is not None:
            iso = _ISO_RE.fullmatch(f"{first} {tokens[1].lower()}")
            if iso is not None and iso["off"] is None:
                try:
                    day = date.fromisoformat(iso["date"])
                except ValueError:
                    raise TimeParseError(f"'{first}' isn't a real date. {AHEAD_HINT}") from None
            else:
                day = parse_day(first, now, tz)
            when = _first_wall_after(day, clock, tz, after)
            if when is None:
                when = _occurrences(day, clock, tz)[0]  # in the past: the caller refuses it
            return when, list(tokens[2:])
    if "t" in first and _ISO_RE.fullmatch(first):
        when = _try_iso_any(first, tz)
        return when, list(tokens[1:])
    raise TimeParseError(f"I couldn't read '{tokens[0]}' as a time. {AHEAD_HINT}")


def _try_iso_any(text: str, tz: ZoneInfo) -> datetime:
    match = _ISO_RE.fullmatch(text)
    assert match is not None
    d = date.fromisoformat(match["date"])
    t = time(int(match["h"]), int(match["m"]))
    if match["off"]:
        return datetime.combine(d, t, tzinfo=_fixed_offset(match["off"])).astimezone(UTC)
    found = _occurrences(d, t, tz)
    if not found:
        raise TimeParseError(f"There is no {_hhmm(t)} on {d:%a %d %b %Y}: the clocks go forward.")
    return found[0]
