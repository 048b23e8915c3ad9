"""The sweeper: fires every climb that is due. The database is the truth, so a restart loses nothing.

Each due climb is handled in its own write transaction: re-read, act, queue messages, move
the climb on, commit. A crash part-way re-runs the same step under the same message keys.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from config.presets import Preset
from reminders import digest, duties, escalation
from reminders.clock import Clock, FakeClock
from storage import (
    child_store,
    claims,
    digest_store,
    duty_store,
    episode_store,
    escalation_store,
    outbox_store,
)
from storage.db import Database

log = logging.getLogger(__name__)

RETRY_BROKEN = timedelta(minutes=5)
PROGRESS_EVERY = 50  # climbs or reminders fired between outbox deliveries in one sweep


class ScheduledJobs(Protocol):
    """Work on a wall-clock schedule (the managers' reports), run by the same sweeper."""

    async def next_due(self) -> datetime | None: ...

    async def run_due(self) -> int: ...


class Sweeper:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        presets: dict[str, Preset],
        batch: int = 200,
        jobs: Sequence[ScheduledJobs] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.presets = presets
        self.batch = batch
        self.jobs = jobs
        self.after_batch: Callable[[], Awaitable[object]] | None = None

    async def sweep(self) -> int:
        """Fire everything due now; returns how many climbs and duty reminders moved."""
        fired = 0
        while True:
            now = self.clock.now()
            due = await escalation_store.due_escalations(self.db, now, self.batch)
            for item in due:
                fired += await self._fire_one(item.id, now)
                await self._progress(fired)
            if len(due) < self.batch:
                break
        while True:
            now = self.clock.now()
            reminders = await duty_store.due_duty_reminders(self.db, now, self.batch)
            for duty in reminders:
                fired += await self._remind_one(duty.id, now)
                await self._progress(fired)
            if len(reminders) < self.batch:
                break
        for staff_id, send_at in await digest_store.due(self.db, self.clock.now()):
            async with self.db.write() as tx:  # one person's morning digest, at their opening
                fired += await digest.send(tx, self.presets, self.clock.now(), staff_id, send_at)
        for job in self.jobs:
            fired += await job.run_due()
        return fired

    async def _progress(self, fired: int) -> None:
        # After a restart with a backlog, the first alerts go out while the rest are still
        # being fired, rather than after all of them.
        if self.after_batch is not None and fired and fired % PROGRESS_EVERY == 0:
            await self.after_batch()

    async def _remind_one(self, duty_id: int, now: datetime) -> int:
        try:
            async with self.db.write() as tx:
                duty = await claims.claim_due_duty(tx, duty_id, now)
                if duty is None or duty.next_remind_at is None or duty.next_remind_at > now:
                    return 0  # closed or chased since we looked (or by another instance now)
                child = await child_store.get_child(tx, duty.child_id)
                if child is None:
                    return 0
                await duties.remind(tx, self.presets[child.area], now, duty)
            return 1
        except Exception:  # noqa: BLE001 - one broken duty must not stop every other reminder
            log.exception("duty %s failed to remind; retrying in %s", duty_id, RETRY_BROKEN)
            async with self.db.write() as tx:
                duty = await duty_store.get_duty(tx, duty_id)
                if duty is not None:
                    await duty_store.update_duty(tx, duty, next_remind_at=now + RETRY_BROKEN)
            return 0

    async def _fire_one(self, escalation_id: int, now: datetime) -> int:
        try:
            return await self._fire(escalation_id, now)
        except Exception:  # noqa: BLE001 - one broken climb must not stop every other alert
            log.exception("climb %s failed to fire; retrying in %s", escalation_id, RETRY_BROKEN)
            async with self.db.write() as tx:
                await escalation.defer_broken(tx, escalation_id, now, RETRY_BROKEN)
            return 0

    async def _fire(self, escalation_id: int, now: datetime) -> int:
        async with self.db.write() as tx:
            esc = await claims.claim_due_escalation(tx, escalation_id, now)
            if esc is None or esc.next_at is None or esc.next_at > now:
                return 0  # someone acknowledged or moved it since we looked
            episode = await episode_store.get_episode(tx, esc.episode_id)
            child = await child_store.get_child(tx, esc.child_id)
            if episode is None or child is None:
                return 0
            await escalation.fire(tx, self.presets[child.area], now, esc, episode, child)
        return 1

    async def next_due(self, outbox: bool = True) -> datetime | None:
        """The next moment anything needs doing: a climb, a duty reminder or an outbox retry
        (`outbox=False`: a delivery pass under way looks after the outbox itself)."""
        times = [
            t
            for t in (
                await escalation_store.next_escalation_due(self.db),
                await duty_store.next_duty_reminder(self.db),
                await digest_store.next_due(self.db),
                *[await job.next_due() for job in self.jobs],
                await outbox_store.next_outbox_due(self.db) if outbox else None,
            )
            if t is not None
        ]
        return min(times) if times else None


MAX_TIMER_STOPS = 100_000


async def run_until(
    sweeper: Sweeper,
    clock: FakeClock,
    target: datetime,
    after_each: Callable[[], Awaitable[object]],
) -> None:
    """Simulated time: move a fake clock to `target`, stopping at every due timer on the way.

    At each stop the sweeper fires and `after_each` runs (deliver the outbox, record).
    """
    for _ in range(MAX_TIMER_STOPS):
        due = await sweeper.next_due()
        if due is None or due > target:
            break
        clock.set(max(due, clock.now()))
        await sweeper.sweep()
        await after_each()
    else:
        raise RuntimeError(f"more than {MAX_TIMER_STOPS} timer stops before {target}")
    clock.set(max(target, clock.now()))
