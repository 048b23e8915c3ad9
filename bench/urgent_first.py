"""Urgent first: how long an urgent alert waits behind a routine backlog (issue 21).

    python bench/urgent_first.py                 # Telegram and Slack, urgent first and FIFO
    python bench/urgent_first.py --platform slack --backlog 2000

10,000 routine messages (daily summaries, reminders, digests) are queued for 300 people on a
real SQLite file (synchronous=FULL), and the outbox (bot/delivery.py, as shipped) starts
draining them. After `--warmup` seconds, 20 urgent alerts are fired: queued in one
transaction as the sweeper queues a climb's sends, followed by the delivery kick the sweeper
gives (`after_batch`). Reported: from firing (the commit) to sent (the send passing the
platform's limits and its round trip) for the 20, p50/p99/max, and the rate the backlog
drained at meanwhile.

The sends go through the real limiter classes the platforms use, at their shipped limits:
Telegram `bot.telegram.sender.PerChatRateLimiter` (PTB's AIORateLimiter: 30 messages/s
overall, 20/min per group, plus one a second per chat), Slack
`bot.slack.sender.ChannelPacer` (one a second per channel). Past the limiter each send costs
a round trip of `--rtt` seconds (an HTTP call to the platform) and nothing else.

In the same run, the baseline: first-in first-out, the same outbox with the 20 alerts queued
as routine (no urgency), so they wait behind the backlog at the platform's pace. With
Telegram's 30/s that is the backlog's length over 30: several minutes (`--backlog` shortens
it). Target: every urgent alert sent within 2 s of firing while the backlog drains at the
platform's limits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import durability, machine, percentile, table  # noqa: E402
from bot.delivery import LANES, OutboxDelivery  # noqa: E402
from bot.slack.sender import ChannelPacer  # noqa: E402
from bot.telegram.sender import PerChatRateLimiter  # noqa: E402
from reminders.clock import SystemClock  # noqa: E402
from storage import outbox_store  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import MessageUrgency, OutboxMessage  # noqa: E402

TARGET_S = 2.0


@dataclass
class Run:
    platform: str
    ordering: str  # 'urgent first' | 'FIFO'
    latencies: list[float] = field(default_factory=list)
    drained: int = 0  # routine messages sent from the start until the last alert went
    drain_seconds: float = 0.0
    limit: str = ""
    durability: str = ""


class PacedSender:
    """The outbox's send: the platform's own limiter, then a round trip."""

    def __init__(self, platform: str, rtt: float) -> None:
        self.platform = platform
        self.rtt = rtt
        self.sent_at: dict[str, float] = {}  # idem_key -> when the send completed
        self.telegram = PerChatRateLimiter(max_retries=0)  # as bot/telegram/app.py builds it
        self.slack = ChannelPacer(1.0)  # as bot/slack/app.py builds it

    async def _call(self) -> bool:
        await asyncio.sleep(self.rtt)
        return True

    async def send(self, message: OutboxMessage) -> None:
        chat = int(message.recipient.rsplit("p", 1)[1]) + 1000  # a person's direct chat
        if self.platform == "telegram":
            await self.telegram.process_request(
                self._call, (), {}, "sendMessage", {"chat_id": chat}, None
            )
        else:
            await self.slack.wait(f"D{chat}")
            await self._call()
        self.sent_at[message.idem_key] = time.monotonic()


async def one_run(
    platform: str, urgent_first: bool, args: argparse.Namespace, workdir: Path
) -> Run:
    run = Run(platform, "urgent first" if urgent_first else "FIFO")
    run.limit = "30/s overall, 1/s per chat" if platform == "telegram" else "1/s per channel"
    rng = random.Random(args.seed)
    path = workdir / f"{platform}-{'urgent' if urgent_first else 'fifo'}.db"
    clock = SystemClock()
    async with Database(path, "FULL") as db:
        people = [f"staff:p{n}" for n in range(args.people)]
        async with db.write() as tx:
            for n in range(args.backlog):
                await outbox_store.enqueue(
                    tx, idem_key=f"routine{n}", recipient=rng.choice(people),
                    text=f"daily summary part {n}", rule_id="SUM-DAILY-TM", now=clock.now(),
                )  # fmt: skip
        sender = PacedSender(platform, args.rtt)
        delivery = OutboxDelivery(db, clock, sender.send)
        stop = asyncio.Event()

        async def heartbeat() -> None:  # as bot/heartbeat.py: a pass, and again when due
            while not stop.is_set():
                await delivery.deliver_due()
                await asyncio.sleep(0.05)

        beating = asyncio.create_task(heartbeat())
        began = time.monotonic()
        await asyncio.sleep(args.warmup)
        alerted = rng.sample(people, args.urgent)
        urgency = MessageUrgency.URGENT if urgent_first else MessageUrgency.ROUTINE
        async with db.write() as tx:  # one sweep fires the alerts
            for n, person in enumerate(alerted):
                await outbox_store.enqueue(
                    tx, idem_key=f"urgent{n}", recipient=person, rule_id="ABS-OOH",
                    text=f"C-{n:04d} is absent", now=clock.now(), urgency=urgency,
                )  # fmt: skip
        fired = time.monotonic()
        delivery.kick()  # as the heartbeat kicks delivery after a sweep fired them
        keys = [f"urgent{n}" for n in range(args.urgent)]
        while not all(k in sender.sent_at for k in keys):
            await asyncio.sleep(0.01)
        done = time.monotonic()
        run.latencies = [sender.sent_at[k] - fired for k in keys]
        run.drained = len(sender.sent_at) - args.urgent  # since delivery began
        run.drain_seconds = done - began
        stop.set()
        beating.cancel()
        delivery.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        run.durability = durability(path)
    return run


def report(runs: list[Run]) -> None:
    rows = []
    for run in runs:
        lat = sorted(run.latencies)
        rate = run.drained / run.drain_seconds if run.drain_seconds else 0.0
        rows.append(
            [
                run.platform,
                run.ordering,
                f"{percentile(lat, 50):.2f} s",
                f"{percentile(lat, 99):.2f} s",
                f"{lat[-1]:.2f} s",
                f"{rate:.1f}/s",
                run.limit,
            ]
        )
    print(
        table(["platform", "ordering", "p50", "p99", "max", "backlog drained at", "limits"], rows)
    )
    print(runs[0].durability)
    by = {(r.platform, r.ordering): r for r in runs}
    for platform in sorted({r.platform for r in runs}):
        first, fifo = by.get((platform, "urgent first")), by.get((platform, "FIFO"))
        if first is None:
            continue
        worst = max(first.latencies)
        verdict = "met" if worst <= TARGET_S else "NOT met"
        line = (
            f"{platform}: every urgent alert within {TARGET_S:.0f} s: {verdict} (max {worst:.2f} s)"
        )
        if fifo is not None:
            line += f"; FIFO max {max(fifo.latencies):.1f} s ({max(fifo.latencies) / worst:.0f}x)"
        print(line)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--platform", choices=["telegram", "slack", "both"], default="both")
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--urgent", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds draining first")
    parser.add_argument("--rtt", type=float, default=0.03, help="seconds per API call")
    parser.add_argument("--no-fifo", action="store_true", help="skip the FIFO baseline")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    platforms = ["telegram", "slack"] if args.platform == "both" else [args.platform]
    print(f"urgent first: {args.backlog} routine messages for {args.people} people, then "
          f"{args.urgent} urgent alerts after {args.warmup:.0f} s; {LANES} delivery lanes, "
          f"round trip {args.rtt * 1000:.0f} ms; {machine()}")  # fmt: skip
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="wb-urgent-") as tmp:
        for platform in platforms:
            for urgent_first in (True, False):
                if not urgent_first and args.no_fifo:
                    continue
                started = time.monotonic()
                run = await one_run(platform, urgent_first, args, Path(tmp))
                print(f"  {platform} {run.ordering}: {time.monotonic() - started:.0f} s",
                      flush=True)  # fmt: skip
                runs.append(run)
    report(runs)
    return 0


def _entry(main: Callable[[], Awaitable[int]]) -> Any:
    return asyncio.run(main())


if __name__ == "__main__":
    sys.exit(_entry(main))
