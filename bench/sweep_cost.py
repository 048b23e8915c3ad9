"""Sweep cost against history size, and timer lateness under a steady stream (issue #9, 2).

    python bench/sweep_cost.py                 # 10k/100k/1M events with 1k/10k/100k open duties
    python bench/sweep_cost.py --quick         # 10k and 100k only
    python bench/sweep_cost.py --db postgresql://wb@127.0.0.1:55432/postgres   # and on PostgreSQL

For each size: the cost of one sweep with nothing due (median of 30) and with 100 duty
reminders due; then, on the live APScheduler heartbeat with the real clock, the lateness of
duty reminders (outbox send time minus the time the rule wanted them) under a steady stream.
Targets: an idle sweep's cost does not grow with history (largest vs smallest within 1.5x);
lateness p99 <= 1 s. Synchronous mode FULL (the bot's default) throughout.

With `--db` (a PostgreSQL server whose user may create databases) every size is measured
on PostgreSQL too (synchronous_commit=on), beside SQLite in the same run, and the idle and
busy sweeps are given as ratios PostgreSQL / SQLite; the history target is checked on both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _pg import scratch_database, server_settings  # noqa: E402

from bot.admin import import_team  # noqa: E402
from bot.delivery import OutboxDelivery  # noqa: E402
from bot.heartbeat import Heartbeat  # noqa: E402
from config.presets import load_all_presets  # noqa: E402
from config.team import TeamFile  # noqa: E402
from handlers.report_jobs import ReportJobs  # noqa: E402
from reminders.clock import FakeClock, SystemClock  # noqa: E402
from reminders.sweeper import Sweeper  # noqa: E402
from storage.db import Database, to_db_time  # noqa: E402
from storage.maintenance import checkpoint as wal_checkpoint  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

CHILDREN = 500
# Urgent, so its reminders go whatever the hour the bench runs at: one that can wait is held
# to the owner's office hours, and a run at night would then measure no lateness at all.
SPEC = json.dumps(
    {"trigger": "found", "action": "bench", "owner": "social_worker",
     "deadline": {"hours": 72}, "every": "PT4H", "source": "bench",
     "urgency": {"urgent": True, "source": "bench: sent at any hour"}}
)  # fmt: skip


def team() -> TeamFile:
    staff = [
        {"id": "sw", "name": "Sam Worker", "role": "social_worker", "manager": "tm"},
        {"id": "tm", "name": "Tess Manager", "role": "team_manager"},
        {"id": "carer", "name": "Carer", "role": "carer", "home": "oak"},
    ]
    children = [
        {"ref": f"C-{i:04d}", "first_name": f"Kid{i}", "home": "oak", "social_worker": "sw",
         "team_manager": "tm", "area": "west-yorkshire"}
        for i in range(CHILDREN)
    ]  # fmt: skip
    return TeamFile.model_validate({"staff": staff, "children": children, "rota": []})


async def seed(db: Database, events: int, duties: int, now: datetime) -> None:
    """History (found episodes with their events) and open duties none of which is due."""
    await import_team(db, team(), default_area="west-yorkshire")
    t = to_db_time(now - timedelta(days=30))
    async with db.write() as tx:
        await tx.executemany(
            "INSERT INTO episodes (child_id, area, state, category, concern, last_seen_at,"
            " last_seen_place, reported_by, reported_at, found_at, end_reason)"
            " VALUES (?, 'west-yorkshire', 'found', 'missing', 'police', ?, 'x', 'carer', ?, ?,"
            " 'returned_by_self')",
            [(1 + i % CHILDREN, t, t, t) for i in range(CHILDREN * 4)],
        )
    batch = 50_000
    for start in range(0, events, batch):
        async with db.write() as tx:
            await tx.executemany(
                "INSERT INTO events (episode_id, child_id, at, recorded_at, actor_id, kind,"
                " rule_id, text) VALUES (?, ?, ?, ?, 'carer', 'update', 'ABS-LOG', ?)",
                [
                    (1 + i % (CHILDREN * 4), 1 + i % CHILDREN, t, t, f"searched place {i}")
                    for i in range(start, min(events, start + batch))
                ],
            )
    later = now + timedelta(days=3)
    for start in range(0, duties, batch):
        async with db.write() as tx:
            await tx.executemany(
                "INSERT INTO duties (episode_id, child_id, rule_id, due_at, owner_id, state,"
                " created_at, owner_role, action, spec_json, next_remind_at)"
                " VALUES (?, ?, 'RHI-72H', ?, 'sw', 'open', ?, 'social_worker', 'bench', ?, ?)",
                [
                    (1 + i % (CHILDREN * 4), 1 + i % CHILDREN, to_db_time(later), t, SPEC,
                     to_db_time(later + timedelta(seconds=i)))
                    for i in range(start, min(duties, start + batch))
                ],
            )  # fmt: skip


async def make_due(db: Database, n: int, when: datetime) -> None:
    async with db.write() as tx:
        await tx.execute(
            "UPDATE duties SET next_remind_at = ? WHERE id IN"
            " (SELECT id FROM duties WHERE state = 'open' ORDER BY next_remind_at LIMIT ?)",
            (to_db_time(when), n),
        )


class Sized:
    """One database of a given size, open for the whole run."""

    def __init__(self, events: int, duties: int, folder: Path, target: str | None = None) -> None:
        self.events, self.duties = events, duties
        self.now = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
        self.path: Path | str = target or folder / f"bench-{events}.db"
        self.idle: list[float] = []
        self.busy = 0.0

    async def open(self) -> None:
        self.db = await Database(self.path, "FULL").open()
        t0 = time.perf_counter()
        await seed(self.db, self.events, self.duties, self.now)
        self.seed_s = time.perf_counter() - t0
        # Seeding wrote the history in a few huge transactions: fold the WAL into the file
        # as SQLite's autocheckpoint keeps it in a running bot (small commits, WAL under 4 MB),
        # so every read is not a search of hundreds of megabytes of WAL. On PostgreSQL the
        # same for its planner: the statistics autovacuum would have gathered by now.
        await wal_checkpoint(self.db)
        if not isinstance(self.path, Path):
            await self.db.outside_transaction("ANALYZE")
        clock = FakeClock(self.now)
        presets = load_all_presets()
        self.sweeper = Sweeper(self.db, clock, presets, jobs=[ReportJobs(self.db, clock, presets)])
        await self.sweeper.sweep()  # the day's report runs once; later sweeps are steady state

    async def idle_round(self, samples: int) -> None:
        for _ in range(samples):
            t = time.perf_counter()
            assert await self.sweeper.sweep() == 0
            await self.sweeper.next_due()
            self.idle.append(time.perf_counter() - t)

    async def due_100(self) -> float:
        await make_due(self.db, 100, self.now - timedelta(seconds=1))
        t = time.perf_counter()
        fired = await self.sweeper.sweep()
        assert fired == 100, fired
        return time.perf_counter() - t


async def lateness(seconds: float, per_second: float) -> list[float]:
    """Real clock, live heartbeat: duty reminders falling due in a steady stream."""
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database(Path(tmp) / "live.db", "FULL").open()
        clock = SystemClock()
        now = clock.now()
        await seed(db, 10_000, 1_000, now)
        count = int(seconds * per_second)
        rng = random.Random(7)
        async with db.write() as tx:
            rows = await tx.fetchall(
                "SELECT id FROM duties WHERE state = 'open' ORDER BY id LIMIT ?", (count,)
            )
            for row in rows:
                due = now + timedelta(seconds=2 + rng.uniform(0, seconds))
                await tx.execute(
                    "UPDATE duties SET next_remind_at = ? WHERE id = ?", (to_db_time(due), row[0])
                )
        wanted = {}
        lates: list[float] = []

        async def sink(message: OutboxMessage) -> None:
            key = message.idem_key
            if key not in wanted:
                wanted[key] = True
                lates.append((clock.now() - message.due_at).total_seconds())

        presets = load_all_presets()
        delivery = OutboxDelivery(db, clock, sink)
        sweeper = Sweeper(db, clock, presets, jobs=[ReportJobs(db, clock, presets)])
        beat = Heartbeat(sweeper, delivery, clock, 30.0)
        await beat.start()
        try:
            await asyncio.sleep(seconds + 4)
        finally:
            beat.shutdown()
            await db.close()
        return lates


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(dbs: list[Sized], label: str = "") -> list[float]:
    for sized in dbs:
        await sized.open()
    # Rounds alternate between the sizes, so machine noise falls on all of them alike.
    for sized in dbs:
        await sized.idle_round(20)  # warm-up, not counted
        sized.idle.clear()
    for _ in range(10):
        for sized in dbs:
            await sized.idle_round(20)
    print(label)
    print(
        f"{'events':>9} {'open duties':>11} {'seed s':>7} {'idle sweep ms':>14} {'100 due ms':>11}"
    )
    idle = []
    for sized in dbs:
        busy = sized.busy = await sized.due_100()
        median = statistics.median(sized.idle)
        idle.append(median)
        print(
            f"{sized.events:>9,} {sized.duties:>11,} {sized.seed_s:>7.1f}"
            f" {median * 1000:>14.3f} {busy * 1000:>11.1f}"
        )
    return idle


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k and 100k history only")
    parser.add_argument("--stream-seconds", type=float, default=20.0)
    parser.add_argument("--stream-rate", type=float, default=20.0, help="reminders per second")
    parser.add_argument(
        "--db", help="a PostgreSQL server (postgresql://…) to measure beside SQLite"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the seeded past's skipped reports are expected
    sizes = [(10_000, 1_000), (100_000, 10_000)]
    if not args.quick:
        sizes.append((1_000_000, 100_000))
    print("SQLite: synchronous=FULL (the bot's default), WAL, one file per size")
    if args.db:
        print(server_settings(args.db) + "; one database per size")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as scratch:
        dbs = [Sized(events, duties, Path(tmp)) for events, duties in sizes]
        pgs = [
            Sized(e, d, Path(tmp), scratch.enter_context(scratch_database(args.db, f"sweep{e}")))
            for e, d in (sizes if args.db else [])
        ]
        try:
            idle = await measure(dbs, "SQLite")
            pg_idle = await measure(pgs, "PostgreSQL") if pgs else []
        finally:
            for sized in dbs + pgs:  # open databases would keep the process from exiting
                if getattr(sized, "db", None) is not None:
                    await sized.db.close()
    ratio = idle[-1] / idle[0]
    verdict = "met" if ratio <= 1.5 else "NOT met"
    print(f"idle sweep, largest vs smallest history: {ratio:.2f}x (target <= 1.5x: {verdict})")
    if pgs:
        pg_ratio = pg_idle[-1] / pg_idle[0]
        pg_verdict = "met" if pg_ratio <= 1.5 else "NOT met"
        print(
            f"PostgreSQL idle sweep, largest vs smallest history: {pg_ratio:.2f}x"
            f" (target <= 1.5x: {pg_verdict})"
        )
        print("PostgreSQL / SQLite, same run:")
        for lite, pg, lite_idle, pg_i in zip(dbs, pgs, idle, pg_idle, strict=True):
            print(
                f"  {lite.events:>9,} events: idle sweep {pg_i / lite_idle:.2f}x,"
                f" 100 due {pg.busy / lite.busy:.2f}x"
            )
    lates = await lateness(args.stream_seconds, args.stream_rate)
    p50, p99 = pct(lates, 0.5), pct(lates, 0.99)
    print(
        f"lateness under a steady stream ({len(lates)} reminders over {args.stream_seconds:.0f} s,"
        f" live heartbeat, real clock): p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms,"
        f" max {max(lates) * 1000:.0f} ms (target p99 <= 1 s: {'met' if p99 <= 1 else 'NOT met'})"
    )


if __name__ == "__main__":
    asyncio.run(main())
