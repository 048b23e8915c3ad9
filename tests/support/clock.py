"""Wall-clock times in an area's zone, as the tests write them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def local(text: str, tz: ZoneInfo = LONDON) -> datetime:
    """'2026-10-23 21:10' in the area's zone, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)
