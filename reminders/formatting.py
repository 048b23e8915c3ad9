"""How times and people read in chat."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def local_time(when: datetime, tz: ZoneInfo) -> str:
    """'Fri 23 Oct 21:05' in the area's time zone."""
    return when.astimezone(tz).strftime("%a %d %b %H:%M")


def short_time(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%H:%M")


def duration(delta: timedelta) -> str:
    """'2 h 05 min', '3 d 4 h', '12 min'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"
