"""Days as people write them: ISO (2026-11-01) or day first, as UK staff do (01/11/2026)."""

from __future__ import annotations

import re
from datetime import date

_DAY_FIRST = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")


def read_day(text: str) -> date:
    """'2026-11-01' or '01/11/2026' (also 1.11.2026) → 1 November 2026; ValueError saying
    which forms are read otherwise."""
    given = text.strip()
    found = _DAY_FIRST.fullmatch(given)
    try:
        if found:
            day, month, year = (int(g) for g in found.groups())
            return date(year, month, day)
        return date.fromisoformat(given)
    except ValueError:
        pass
    raise ValueError(
        f"{text!r} is not a date: write it 2026-11-01 or 01/11/2026 (day, month, year)"
    )
