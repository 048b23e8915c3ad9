"""Our time parser against dateparser, on one table of phrases (run by hand, never by pytest).

    .venv/bin/python bench/timeparse_compare.py [--repeat N] [--markdown]

Reads tests/data/timeparse_phrases.yaml (the phrases and what each must mean at a fixed
"now" in Europe/London; every row is also a test in tests/test_timeparse.py) and runs three
readers on each phrase:

- ours: handlers.timeparse.parse_when.
- dateparser: dateparser.parse with day-first dates, past-preferring, relative to the
  table's "now" in the table's zone (the settings below). Its answer gets the same guard
  ours has: a time in the future or over a year ago is refused.
- ours-then-dateparser: ours, and dateparser only for what ours could not read at all.

A phrase counts as right when the reader gives the expected time, refuses a phrase the
table says to refuse, or (ours only can) asks about a phrase the table says to ask about;
a reader that picks one reading of an ambiguous phrase has guessed, which counts as wrong.
It prints accuracy and mean time per parse for each; --markdown adds the table per phrase.
dateparser is not a dependency of the project: without it installed, its columns are
skipped, saying so.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.timeparse import GRACE, OLDEST, AmbiguousTime, TimeParseError, parse_when  # noqa: E402

TABLE = ROOT / "tests" / "data" / "timeparse_phrases.yaml"


@dataclass(frozen=True)
class Answer:
    kind: str  # "time", "ask", "refuse"
    times: tuple[datetime, ...] = ()

    def show(self, zone: ZoneInfo) -> str:
        local = [t.astimezone(zone).strftime("%a %d %H:%M") for t in self.times]
        if self.kind == "time":
            return local[0]
        if self.kind == "ask":
            return "asks: " + " or ".join(local)
        return "refused"


Reader = Callable[[str, datetime, ZoneInfo], Answer]


def ours(text: str, now: datetime, zone: ZoneInfo) -> Answer:
    try:
        return Answer("time", (parse_when(text, now, zone),))
    except AmbiguousTime as ambiguous:
        return Answer("ask", tuple(c.when for c in ambiguous.choices))
    except TimeParseError:
        return Answer("refuse")


def _could_not_read(text: str, now: datetime, zone: ZoneInfo) -> bool:
    try:
        parse_when(text, now, zone)
    except AmbiguousTime:
        return False
    except TimeParseError as error:
        return str(error).startswith("I couldn't read")
    return False


def make_dateparser() -> Reader | None:
    try:
        import dateparser
    except ImportError:
        return None

    def read(text: str, now: datetime, zone: ZoneInfo) -> Answer:
        settings: Any = {
            "DATE_ORDER": "DMY",
            "PREFER_DATES_FROM": "past",
            "PREFER_DAY_OF_MONTH": "current",
            "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
            "TIMEZONE": str(zone),
            "TO_TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
        }
        when = dateparser.parse(text, languages=["en"], settings=settings)
        if when is None:
            return Answer("refuse")
        when = when.astimezone(UTC)
        if when > now + GRACE or now - when > OLDEST:
            return Answer("refuse")  # the guard ours has
        return Answer("time", (min(when, now),))

    return read


def chained(first: Reader, then: Reader) -> Reader:
    def read(text: str, now: datetime, zone: ZoneInfo) -> Answer:
        if _could_not_read(text, now, zone):
            return then(text, now, zone)
        return first(text, now, zone)

    return read


def expected(row: dict[str, Any], zone: ZoneInfo) -> Answer:
    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)

    if "means" in row:
        return Answer("time", (instant(row["means"]),))
    if "ask" in row:
        return Answer("ask", tuple(instant(t) for t in row["ask"]))
    return Answer("refuse")


def right(got: Answer, want: Answer) -> bool:
    if got.kind != want.kind:
        return False
    close = all(
        abs(g - w) < timedelta(minutes=1) for g, w in zip(got.times, want.times, strict=False)
    )
    return len(got.times) == len(want.times) and close


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=50, help="parses per phrase for timing")
    parser.add_argument("--markdown", action="store_true", help="print the per-phrase table")
    options = parser.parse_args()

    table = yaml.safe_load(TABLE.read_text())
    zone = ZoneInfo(table["zone"])
    now = datetime.fromisoformat(table["now"]).replace(tzinfo=zone).astimezone(UTC)
    rows = table["phrases"]

    readers: dict[str, Reader] = {"ours": ours}
    other = make_dateparser()
    if other is None:
        print("dateparser is not installed: its columns are skipped (pip install dateparser).")
    else:
        readers["dateparser"] = other
        readers["ours-then-dateparser"] = chained(ours, other)

    print(f"{len(rows)} phrases at {now.astimezone(zone):%a %d %b %Y %H:%M %Z} ({zone})")
    answers: dict[str, list[Answer]] = {}
    for name, read in readers.items():
        read(rows[0]["say"], now, zone)  # imports, caches
        got = [read(row["say"], now, zone) for row in rows]
        started = time.perf_counter()
        for _ in range(options.repeat):
            for row in rows:
                read(row["say"], now, zone)
        per_parse = (time.perf_counter() - started) / (options.repeat * len(rows))
        answers[name] = got
        correct = sum(right(g, expected(r, zone)) for g, r in zip(got, rows, strict=True))
        print(
            f"{name:22} {correct}/{len(rows)} right ({100 * correct / len(rows):.0f} %), "
            f"{per_parse * 1e6:8.1f} µs per parse"
        )

    if options.markdown:
        names = list(answers)
        print()
        print("| phrase | expected | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for i, row in enumerate(rows):
            want = expected(row, zone)
            cells = []
            for name in names:
                got = answers[name][i]
                mark = "✓" if right(got, want) else "✗"
                cells.append(f"{mark} {got.show(zone)}")
            print(f"| `{row['say']}` | {want.show(zone)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
