"""Instances sharing one database: heartbeats, and the singletons held by lease.

Every instance writes a heartbeat every `renew_every` (2 s). What only one instance may do at
a time — Telegram long polling (Telegram serves getUpdates to one consumer), the daily and
weekly reports, the rota gap forecast — is a lease (storage/instance_store.py) one instance
holds and renews on the same beat, until `expires_at` (6 s ahead). An instance that dies stops
renewing; a standby takes the lease at its first beat after it expires, so a takeover comes
within lease + renew_every (8 s) of the death. The standby that takes over from an instance
that never let go tells the admins, once, through the outbox: which instance took over what,
from which. A clean stop lets go at once (no message: nothing went wrong).

Webhook and HTTP modes (Telegram's webhook, Slack HTTP, Slack Socket Mode) are served by every
instance: only polling is a singleton. The same beat returns to pending what a dead instance
left mid-send (bot/delivery.py), so its messages in flight are sent by a survivor, and has
the sweeper's scheduler look again at the next due time, so the timers another instance made
(the climbs of a command it took) are fired on time here if that one dies, and has each
platform take over the updates a dead instance stored and never handled (`adopters`).

The lease is a row, which works on SQLite and PostgreSQL alike; `Elector` is the seam where a
PostgreSQL advisory lock could stand in for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.delivery import OutboxDelivery
from config.settings import DISPLAY_TIMEZONE
from reminders.clock import Clock
from reminders.formatting import local_time
from reminders.sweeper import ScheduledJobs
from storage import instance_store, outbox_store, staff_store
from storage.db import Database, Tx
from storage.models import Recipient, Role

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=6)
RENEW_EVERY = timedelta(seconds=2)
FORGET_AFTER = timedelta(days=1)  # a dead instance's row is kept this long (metrics, /readyz)

TELEGRAM_POLLING = "telegram-polling"
REPORTS = "reports"
ROTA_GAPS = "rota-gaps"
NOTIFY_REPLIES = "notify-replies"
# What each singleton is, in the words of the message the admins get.
LABELS = {
    TELEGRAM_POLLING: "Telegram long polling",
    REPORTS: "the daily and weekly reports",
    ROTA_GAPS: "the rota gap forecast",
    NOTIFY_REPLIES: "GOV.UK Notify reply polling",
}

Hook = Callable[[], Awaitable[object]]


def new_instance_id() -> str:
    """host/pid/random: readable in a message, unique across restarts (a container's pid 1)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


@dataclass
class Singleton:
    name: str
    on_gain: Hook | None = None  # e.g. start polling
    on_loss: Hook | None = None  # e.g. stop polling

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


@dataclass(frozen=True)
class Takeover:
    name: str
    from_holder: str
    expired_at: datetime


class Elector(Protocol):
    """Who holds a singleton. The lease row (`LeaseElector`) works on every engine."""

    async def hold(
        self, tx: Tx, name: str, holder: str, now: datetime, lease: timedelta
    ) -> tuple[bool, Takeover | None]: ...

    async def let_go(self, tx: Tx, name: str, holder: str) -> None: ...


class LeaseElector:
    async def hold(
        self, tx: Tx, name: str, holder: str, now: datetime, lease: timedelta
    ) -> tuple[bool, Takeover | None]:
        held, before = await instance_store.hold(tx, name, holder, now, now + lease)
        taken = None
        if held and before is not None and before.holder not in (None, holder):
            taken = Takeover(name, before.holder, before.expires_at)  # it never let go
        return held, taken

    async def let_go(self, tx: Tx, name: str, holder: str) -> None:
        await instance_store.let_go(tx, name, holder)


class Instance:
    """This process's place among the instances on one database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        singletons: Sequence[Singleton] = (),
        delivery: OutboxDelivery | None = None,
        instance_id: str | None = None,
        lease: timedelta = LEASE,
        renew_every: timedelta = RENEW_EVERY,
        elector: Elector | None = None,
        zone: ZoneInfo | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.id = instance_id or new_instance_id()
        self.singletons = {s.name: s for s in singletons}
        self.lease = lease
        self.renew_every = renew_every
        self.elector = elector or LeaseElector()
        self.zone = zone or ZoneInfo(DISPLAY_TIMEZONE)
        self.held: dict[str, datetime] = {}  # name -> until when, by our own clock
        self.takeovers: list[Takeover] = []  # every takeover this instance made
        self.last_beat: datetime | None = None
        # After each beat: the sweeper's scheduler looks again at the next due time, so timers
        # another instance made (a command it took) are fired here on time if it dies.
        self.on_beat: Hook | None = None
        # After each beat too: each platform's inbox takes over what dead instances stored.
        self.adopters: list[Hook] = []
        self._loop: asyncio.Task[None] | None = None
        self._one_beat = asyncio.Lock()  # the loop's beats and `beat_now`'s never overlap
        self.delivery: OutboxDelivery | None = None
        if delivery is not None:
            self.attach(delivery)

    def attach(self, delivery: OutboxDelivery) -> None:
        """The outbox this instance delivers (it may start beating before there is one)."""
        self.delivery = delivery
        delivery.holder = self.id  # its claims are vouched for by our heartbeat

    def holds(self, name: str) -> bool:
        until = self.held.get(name)
        return until is not None and self.clock.now() < until

    def add(self, singleton: Singleton) -> None:
        self.singletons[singleton.name] = singleton

    async def start(self, sole_process: bool = False, loop: bool = True) -> None:
        """Register and take what is free. `sole_process`: the SQLite file's lock is ours, so
        every instance recorded before is dead: forgotten, their leases let go, no waiting."""
        if sole_process:
            async with self.db.write() as tx:
                await instance_store.forget_all(tx)
        await self.tick()
        if loop:
            self._loop = asyncio.create_task(self._beat_forever())

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every.total_seconds())
            try:
                await self.beat_now()
            except Exception:  # noqa: BLE001 - the next beat tries again; never let the loop die
                log.exception("instance heartbeat failed")

    async def beat_now(self) -> list[Takeover]:
        """A beat now, never overlapping the loop's (two beats at once could both gain a
        singleton and start it twice): e.g. to take the singletons just added."""
        async with self._one_beat:
            return await self.tick()

    async def tick(self) -> list[Takeover]:
        """One beat: the heartbeat, every lease renewed or tried, the takeovers told, in one
        transaction; then what was gained starts and what was lost stops."""
        now = self.clock.now()
        gained: list[str] = []
        lost: list[str] = []
        taken: list[Takeover] = []
        try:
            async with self.db.write() as tx:
                await instance_store.beat(tx, self.id, socket.gethostname(), os.getpid(), now)
                if self.delivery is not None:  # what it is sending stays its own
                    await outbox_store.renew_claims(tx, self.id, now)
                for name in self.singletons:
                    held, takeover = await self.elector.hold(tx, name, self.id, now, self.lease)
                    if held:
                        if name not in self.held:
                            gained.append(name)
                        self.held[name] = now + self.lease
                        if takeover is not None:
                            taken.append(takeover)
                    elif name in self.held:
                        lost.append(name)
                        del self.held[name]
                if taken:
                    await self._tell_admins(tx, taken, now)
                await instance_store.prune(tx, now - FORGET_AFTER)
        except Exception:
            # Not renewed: what our own clock says has run out is another's to take now.
            lost += [n for n, until in list(self.held.items()) if until <= now]
            for name in lost:
                self.held.pop(name, None)
            await self._run_hooks([], lost)
            raise
        self.last_beat = now
        self.takeovers += taken
        for takeover in taken:
            log.warning("took over %s from %s", takeover.name, takeover.from_holder)
        await self._run_hooks(gained, lost)
        if self.delivery is not None:
            await self.delivery.recover()  # what a dead instance left mid-send
        for adopt in self.adopters:
            try:
                await adopt()
            except Exception:  # noqa: BLE001 - the next beat tries again
                log.exception("taking over a dead instance's updates failed")
        if self.on_beat is not None:
            await self.on_beat()
        return taken

    async def _run_hooks(self, gained: list[str], lost: list[str]) -> None:
        for name in lost:
            hook = self.singletons[name].on_loss
            if hook is not None:
                try:
                    await hook()
                except Exception:  # noqa: BLE001
                    log.exception("stopping %s failed", name)
        for name in gained:
            hook = self.singletons[name].on_gain
            if hook is not None:
                try:
                    await hook()
                except Exception:  # noqa: BLE001 - let go, so another instance can take it
                    log.exception("starting %s failed; letting it go", name)
                    self.held.pop(name, None)
                    async with self.db.write() as tx:
                        await self.elector.let_go(tx, name, self.id)

    async def _tell_admins(self, tx: Tx, taken: list[Takeover], now: datetime) -> None:
        """One message per admin for the takeovers of one beat."""
        by_holder: dict[str, list[Takeover]] = {}
        for takeover in taken:
            by_holder.setdefault(takeover.from_holder, []).append(takeover)
        admins = [s.id for s in await staff_store.staff_with_role(tx, Role.ADMIN)]
        for old, items in by_holder.items():
            what = _and([self.singletons[t.name].label for t in items])
            stopped = min(t.expired_at for t in items) - self.lease
            text = (
                f"Whereabouts instance {old} stopped answering (last heard from "
                f"{local_time(stopped, self.zone)}), so instance {self.id} took over {what} "
                f"at {local_time(now, self.zone)}. Nothing queued is lost and alerts go on. "
                f"Find out why {old} stopped (its host, its logs) and restart it, or leave "
                "this one to carry on alone. Told: the admins."
            )
            for admin in admins:
                await outbox_store.enqueue(
                    tx,
                    idem_key=f"takeover:{self.id}:{old}:{min(t.expired_at for t in items)}"
                    f":staff:{admin}",
                    recipient=Recipient.staff(admin),
                    text=text,
                    now=now,
                )

    async def stop(self) -> None:
        """A clean stop: singletons stopped, leases let go and the instance forgotten, so a
        standby takes over at its next beat, without telling anyone."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        lost = list(self.held)
        self.held.clear()
        await self._run_hooks([], lost)
        async with self.db.write() as tx:
            for name in self.singletons:
                await self.elector.let_go(tx, name, self.id)
            await instance_store.forget(tx, self.id)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class LeasedJobs:
    """Scheduled jobs (the reports, the gap forecast) run only by the instance holding their
    lease; the others neither run them nor wake for them."""

    def __init__(self, jobs: ScheduledJobs, instance: Instance, name: str) -> None:
        self.jobs = jobs
        self.instance = instance
        self.name = name

    async def next_due(self) -> datetime | None:
        return await self.jobs.next_due() if self.instance.holds(self.name) else None

    async def run_due(self) -> int:
        return await self.jobs.run_due() if self.instance.holds(self.name) else 0
