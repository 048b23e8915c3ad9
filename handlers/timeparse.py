"""Read the times carers type in chat ("21:05", "20 min ago", "Fri 21:10", ...).

Everything resolves against an injected ``now`` (aware UTC) and the area's time
zone, and comes back as an aware UTC datetime. A time is never accepted in the
future (beyond a small grace for phone clocks running fast). How far in the past
is acceptable is the caller's business.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# Phones and servers disagree by a minute or so; "21:10" typed at 21:09 means now.
GRACE = timedelta(minutes=2)
# A bare "23:50" typed at 00:10 means last night, but not a time 20 hours ago.
BARE_TIME_LOOKBACK = timedelta(hours=12)
# split_leading_time looks at no more than this many tokens ("20 min ago").
MAX_TIME_TOKENS = 3

FORMATS_HINT = "Try 21:10, now, 20 min ago, 2h ago, yesterday 23:15, Fri 21:10 or 2026-10-23 21:10."

_TIME_RE = re.compile(r"(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)")
_AT = r"(?:\s+at)?"
_HOURS = r"(?:h|hr|hrs|hour|hours)"
_MINUTES = r"(?:m|min|mins|minute|minutes)"
_AGO_RE = re.compile(
    rf"(?:(?P<h>\d{{1,5}})\s*{_HOURS}(?:\s*(?P<hm>[0-5]?\d)\s*{_MINUTES}?)?"
    rf"|(?P<m>\d{{1,6}})\s*{_MINUTES})\s+ago"
)
_DAY_TIME_RE = re.compile(rf"(?P<day>[a-z]+){_AT}\s+(?P<time>\S+)")
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


def _resolve_wall(d: date, t: time, tz: ZoneInfo, now: datetime) -> datetime:
    """The UTC instant of local ``t`` on ``d``.

    Autumn (clock read ``t`` twice): the latest occurrence not in the future.
    Spring (clock skipped ``t``): refused, because we can't guess which was meant.
    If every occurrence is in the future the earliest is returned for the caller to refuse.
    """
    found = _occurrences(d, t, tz)
    if not found:
        raise TimeParseError(
            f"There was no {_hhmm(t)} on {d:%a %d %b %Y}: the clocks went forward that night. "
            "Please check the time."
        )
    past = [instant for instant in found if instant <= now + GRACE]
    return past[-1] if past else found[0]


def _not_future(when: datetime, now: datetime, said: str) -> datetime:
    if when > now + GRACE:
        raise TimeParseError(
            f"'{said}' is in the future. Give the time it happened, e.g. 21:10 or 20 min ago."
        )
    # Within the grace it means "just now"; never store a future instant.
    return min(when, now)


# --- one parser per format; each returns None if the text isn't its shape -------


def _parse_now(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    return now if text in ("now", "just now") else None


def _parse_ago(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    match = _AGO_RE.fullmatch(text)
    if match is None:
        return None
    if match["m"] is not None:
        delta = timedelta(minutes=int(match["m"]))
    else:
        delta = timedelta(hours=int(match["h"]), minutes=int(match["hm"] or 0))
    return now - delta  # elapsed time, so a clock change in between doesn't matter


def _parse_bare_time(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    t = _parse_clock(text)
    if t is None:
        return None
    today = now.astimezone(tz).date()
    when = _resolve_wall(today, t, tz, now)
    if when <= now + GRACE:
        return when
    # Today's is still to come: just after midnight "23:50" means last night.
    yesterday = _resolve_wall(today - timedelta(days=1), t, tz, now)
    if now - yesterday <= BARE_TIME_LOOKBACK:
        return yesterday
    raise TimeParseError(
        f"{_hhmm(t)} today is in the future. If you meant yesterday, type yesterday {_hhmm(t)}."
    )


def _parse_day_time(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """``today 21:10``, ``yesterday 23:15``, ``Fri 21:10`` (the most recent Friday)."""
    match = _DAY_TIME_RE.fullmatch(text)
    if match is None:
        return None
    t = _parse_clock(match["time"])
    if t is None:
        return None
    day_word = match["day"]
    today = now.astimezone(tz).date()
    if day_word == "today":
        return _resolve_wall(today, t, tz, now)
    if day_word == "yesterday":
        return _resolve_wall(today - timedelta(days=1), t, tz, now)
    if day_word not in _WEEKDAYS:
        return None
    days_back = (today.weekday() - _WEEKDAYS[day_word]) % 7
    when = _resolve_wall(today - timedelta(days=days_back), t, tz, now)
    if when > now + GRACE:
        # Today's is still to come, so it's the same weekday last week.
        when = _resolve_wall(today - timedelta(days=days_back + 7), t, tz, now)
    return when


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

_PARSERS = (_parse_now, _parse_ago, _parse_bare_time, _parse_day_time, _parse_iso)


def _try_parse(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant ``text`` names, None if it isn't a time at all.

    Raises TimeParseError when it *is* a time but can't be used (future, never existed).
    """
    normal = " ".join(text.lower().split())
    for parser in _PARSERS:
        try:
            when = parser(normal, now, tz)
        except (OverflowError, ValueError) as exc:
            if isinstance(exc, TimeParseError):
                raise
            raise TimeParseError(f"'{text.strip()}' isn't a usable time. {FORMATS_HINT}") from exc
        if when is not None:
            if now - when > OLDEST:
                raise TimeParseError(
                    f"'{text.strip()}' is more than a year ago. Check the date. {FORMATS_HINT}"
                )
            return _not_future(when, now, text.strip())
    return None


# --- public API ----------------------------------------------------------------


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The aware UTC instant a carer meant by ``text``, never later than ``now``."""
    now = _require_utc_now(now)
    when = _try_parse(text, now, tz)
    if when is None:
        raise TimeParseError(f"I couldn't read '{text.strip()}' as a time. {FORMATS_HINT}")
    return when


def split_leading_time(
    tokens: list[str], now: datetime, tz: ZoneInfo
) -> tuple[datetime, list[str]]:
    """Take a time off the front of a command's arguments: (when, the rest).

    The longest prefix (up to MAX_TIME_TOKENS) that reads as a time wins, so
    "yesterday 23:15 left" takes two tokens rather than failing on "yesterday".
    """
    now = _require_utc_now(now)
    if not tokens:
        raise TimeParseError(f"I need a time first. {FORMATS_HINT}")
    for size in range(min(MAX_TIME_TOKENS, len(tokens)), 0, -1):
        when = _try_parse(" ".join(tokens[:size]), now, tz)
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
