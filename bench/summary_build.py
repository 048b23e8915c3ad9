"""Daily summary build time (issue #9, 4): 100k history events and 500 open episodes.

    python bench/summary_build.py [--events 100000] [--open 500]

Builds the whole-service daily summary and the weekly pack (with its chart) the way the
scheduled job does, on a SQLite file with synchronous=FULL, and prints the median of 5 builds
next to a floor measured in the same run: one read of every open episode's timeline.
Target: daily summary <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.admin import import_team  # noqa: E402
from config.team import TeamFile  # noqa: E402
from handlers import charts, summaries  # noqa: E402
from handlers.summaries import View  # noqa: E402
from storage import episode_store  # noqa: E402
from storage.db import Database, to_db_time  # noqa: E402

LONDON = ZoneInfo("Europe/London")


async def seed(db: Database, events: int, open_episodes: int, now: datetime) -> None:
    children = open_episodes * 2
    staff = [
        {"id": "sw", "name": "Sam Worker", "role": "social_worker", "manager": "tm"},
        {"id": "tm", "name": "Tess Manager", "role": "team_manager"},
        {"id": "carer", "name": "Carer", "role": "carer", "home": "oak"},
    ]
    kids = [
        {"ref": f"C-{i:04d}", "first_name": f"Kid{i}", "home": "oak", "social_worker": "sw",
         "team_manager": "tm"}
        for i in range(children)
    ]  # fmt: skip
    team = TeamFile.model_validate({"staff": staff, "children": kids, "rota": []})
    await import_team(db, team, default_area="north-somerset")
    old = to_db_time(now - timedelta(days=40))
    recent = to_db_time(now - timedelta(hours=10))
    async with db.write() as tx:
        # past episodes, found, for every child; then one open episode for half of them
        await tx.executemany(
            "INSERT INTO episodes (child_id, area, state, category, concern, last_seen_at,"
            " last_seen_place, reported_by, reported_at, found_at, end_reason, ever_missing)"
            " VALUES (?, 'north-somerset', 'found', 'missing', 'police', ?, 'x', 'carer', ?, ?,"
            " 'returned_by_self', 1)",
            [(1 + i % children, old, old, old) for i in range(children * 3)],
        )
        await tx.executemany(
            "INSERT INTO episodes (child_id, area, state, category, concern, last_seen_at,"
            " last_seen_place, reported_by, reported_at, ever_missing, police_ref, police_grade)"
            " VALUES (?, 'north-somerset', 'open', 'missing', 'police', ?, 'x', 'carer', ?, 1,"
            " 'P-1', 'medium')",
            [(1 + i, recent, recent) for i in range(open_episodes)],
        )
    total_episodes = children * 3 + open_episodes
    for start in range(0, events, 50_000):
        async with db.write() as tx:
            await tx.executemany(
                "INSERT INTO events (episode_id, child_id, at, recorded_at, actor_id, kind,"
                " rule_id, text) VALUES (?, ?, ?, ?, 'carer', ?, 'ABS-LOG', ?)",
                [
                    (1 + i % total_episodes, 1 + i % children, old, old,
                     ("update", "parents_engaged", "next_steps")[i % 3], f"searched place {i}")
                    for i in range(start, min(events, start + 50_000))
                ],
            )  # fmt: skip


async def timed(make, runs: int = 5) -> float:  # noqa: ANN001 - a coroutine factory
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await make()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=500)
    args = parser.parse_args()
    now = datetime(2026, 11, 10, 8, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database(Path(tmp) / "bench.db", "FULL").open()
        try:
            await seed(db, args.events, args.open, now)
            view = View(db, now, LONDON, None, summaries.scope_of(None))

            async def floor() -> None:
                for episode in await episode_store.open_episodes(db):
                    await episode_store.events_for_episode(db, episode.id)

            async def daily() -> None:
                await summaries.daily(view, "Daily missing summary")

            async def weekly() -> None:
                await summaries.weekly(view, "Weekly pack")
                await charts.episodes_chart(view, "chart")

            text = await summaries.daily(view, "Daily missing summary")
            f, d, w = await timed(floor), await timed(daily), await timed(weekly, 3)
        finally:
            await db.close()
    print(f"synchronous=FULL; {args.events:,} history events, {args.open} open episodes")
    print(f"floor (read every open episode's timeline): {f * 1000:.0f} ms")
    print(
        f"daily summary build: {d * 1000:.0f} ms ({d / f:.1f}x the floor; "
        f"{len(text):,} characters) - target <= 1 s: {'met' if d <= 1 else 'NOT met'}"
    )
    print(f"weekly pack with chart: {w * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
