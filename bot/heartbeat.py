"""APScheduler drives the sweeper and the outbox; the database stays the truth.

Two jobs: one at the next due time (moved whenever something new is queued), and a
fixed-interval safety net. Either may run late or twice without harm: the sweeper only
fires what the database says is due, under idempotent message keys.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery import OutboxDelivery
from reminders.clock import Clock
from reminders.sweeper import Sweeper

log = logging.getLogger(__name__)

NEXT_DUE_JOB = "next-due"
MIN_GAP = timedelta(milliseconds=50)  # never reschedule in a tight loop
SAFETY_NET_JOB = "safety-net"


class Heartbeat:
    def __init__(
        self,
        sweeper: Sweeper,
        delivery: OutboxDelivery,
        clock: Clock,
        interval_seconds: float = 30.0,
    ) -> None:
        self.sweeper = sweeper
        self.delivery = delivery
        # Delivery runs beside the sweeps, not inside them (OutboxDelivery.kick): a pass
        # draining a backlog never holds up the next sweep, and what a sweep fires joins it.
        sweeper.after_batch = self._deliver
        delivery.on_idle = self.wake  # the outbox's next due time counts again
        self.clock = clock
        self.interval = interval_seconds
        self._kicked: asyncio.Task[None] | None = None
        self._again = False
        self.last_sweep_at: datetime | None = None  # the last sweep that finished (/readyz)
        self.on_sweep: Callable[[float], None] | None = None  # its seconds (the metrics)
        # misfire_grace_time=None: a run delayed by a stall still runs (3.x drops it after 1 s).
        self.scheduler = AsyncIOScheduler(
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    async def start(self) -> None:
        await self.delivery.recover()
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.interval),
            id=SAFETY_NET_JOB,
            replace_existing=True,
        )
        self.scheduler.start()
        await self.tick()  # anything that fell due while we were down goes out now

    async def _deliver(self) -> None:
        self.delivery.kick()

    def shutdown(self) -> None:
        self.delivery.stop()
        if self._kicked is not None:
            self._kicked.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def kick(self) -> None:
        """After a command: sweep and deliver soon, in the background, so the command's reply
        is not held up behind the outbox. Kicks while one runs coalesce into one more run."""
        if self._kicked is not None and not self._kicked.done():
            self._again = True
            return
        self._kicked = asyncio.create_task(self._kick_runs())

    async def _kick_runs(self) -> None:
        while True:
            self._again = False
            began = time.monotonic()
            await self.tick()
            if not self._again:
                return
            # Kicked again meanwhile (commands arriving): the next run waits out MIN_GAP, and
            # every kick in that time joins it. Without the gap, at 200 commands a second the
            # runs went back to back (a tick no longer waits for delivery), each a sweep, the
            # next-due queries and a claim in the write transaction every command waits for.
            await asyncio.sleep(max(0.0, MIN_GAP.total_seconds() - (time.monotonic() - began)))

    async def tick(self) -> None:
        # Separately: a sweep that fails must not stop delivery, nor the other way round.
        began = time.perf_counter()
        try:
            await self.sweeper.sweep()
            self.last_sweep_at = self.clock.now()
        except Exception:  # noqa: BLE001 - the safety net runs again; never let the job die
            log.exception("sweep failed")
        if self.on_sweep is not None:
            self.on_sweep(time.perf_counter() - began)
        self.delivery.kick()
        await self.wake()

    async def wake(self) -> datetime | None:
        """(Re)schedule the next-due job at the earliest thing the database is waiting for.
        The outbox counts only while no delivery pass runs: a pass claims as its lanes free
        and hears of what is queued meanwhile (`kick`), and messages held behind one in
        flight are due already, so counting them re-ran the heartbeat every MIN_GAP for as
        long as a backlog drained. The pass wakes this again when it ends (`on_idle`)."""
        due = await self.sweeper.next_due(outbox=not self.delivery.busy)
        if due is None:
            return None
        run_at = max(due, self.clock.now() + MIN_GAP)
        self.scheduler.add_job(
            self.tick, DateTrigger(run_date=run_at), id=NEXT_DUE_JOB, replace_existing=True
        )
        return run_at
