"""Messages per person per night: the demo and the five area scenarios (issue #17).

    .venv/bin/python bench/messages_per_night.py [--area west-yorkshire ...] [--all-rows]

Plays each scenario in bot/scenarios/ (the demo is west-yorkshire.yaml) on a fresh SQLite
file with its fake clock, through the same handlers, sweeper and outbox as the live bot,
then counts the outbox per recipient per night: rows queued between 17:00 and 09:00 local
(a night is named by the evening it starts). A row merged into an earlier one (a later
version's `state = 'merged'`) went out inside that message and is not counted as a message
of its own; `rows` counts every row queued. Uses only what every version of the bot has
(bot.scenario, the outbox table), so the lead can run it on the old code and the new.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.scenario import ScenarioRun, load_scenario  # noqa: E402
from config.presets import AREAS, load_all_presets  # noqa: E402

SCENARIOS = Path(__file__).resolve().parents[1] / "bot" / "scenarios"
EVENING = time(17, 0)
MORNING = time(9, 0)


def _night(local: datetime) -> str | None:
    """The evening a local time's night began ('Fri 23 Oct'), or None in the day."""
    if local.time() >= EVENING:
        start = local.date()
    elif local.time() < MORNING:
        start = local.date() - timedelta(days=1)
    else:
        return None
    return datetime.combine(start, EVENING).strftime("%a %d %b")


def _order(night: str) -> tuple[int, int]:
    parsed = datetime.strptime(night.split(" ", 1)[1], "%d %b")
    return parsed.month, parsed.day


def count(
    db_path: Path, zone: ZoneInfo
) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(messages, rows) per (night, recipient name)."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    names = {f"staff:{r['id']}": r["name"] for r in conn.execute("SELECT id, name FROM staff")}
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(outbox)")}
    merged = "state = 'merged'" if "merged_into" in columns else "0"
    messages: Counter[tuple[str, str]] = Counter()
    rows: Counter[tuple[str, str]] = Counter()
    for row in conn.execute(f"SELECT recipient, created_at, {merged} AS merged FROM outbox"):
        if row["recipient"] == "redact":
            continue
        at = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        night = _night(at.astimezone(zone))
        if night is None:
            continue
        key = (night, names.get(row["recipient"], row["recipient"]))
        rows[key] += 1
        if not row["merged"]:
            messages[key] += 1
    conn.close()
    return messages, rows


async def run(area: str) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    scenario = load_scenario(SCENARIOS / f"{area}.yaml")
    zone = ZoneInfo(load_all_presets()[area].timezone)
    with tempfile.TemporaryDirectory(prefix="whereabouts-bench-") as tmp:
        path = Path(tmp) / "night.db"
        await ScenarioRun(scenario).run(path)
        return count(path, zone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--area", action="append", choices=AREAS, help="default: all five")
    args = parser.parse_args()
    areas = args.area or list(AREAS)
    grand_messages = grand_rows = 0
    for area in areas:
        messages, rows = asyncio.run(run(area))
        demo = " (the demo)" if area == "west-yorkshire" else ""
        print(f"\n{area}{demo}: messages per person per night, 17:00-09:00 local")
        print(f"  {'night of':<11} {'recipient':<34} {'messages':>8} {'rows':>5}")
        for night, who in sorted(rows, key=lambda k: (_order(k[0]), -rows[k], k[1])):
            print(f"  {night:<11} {who:<34} {messages[(night, who)]:>8} {rows[(night, who)]:>5}")
        busiest = max(messages.values(), default=0)
        print(
            f"  total: {sum(messages.values())} messages ({sum(rows.values())} rows) to "
            f"{len({w for _, w in rows})} recipients; most to one person in one night: {busiest}"
        )
        grand_messages += sum(messages.values())
        grand_rows += sum(rows.values())
    print(f"\nall areas: {grand_messages} messages at night ({grand_rows} rows)")


if __name__ == "__main__":
    main()
