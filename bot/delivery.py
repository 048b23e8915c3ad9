"""Delivers the outbox: claim, send, mark, in separate transactions, with retries.

A crash between send and mark leaves the row 'sending'; recovery puts it back to pending
and it is sent again under the same idempotency key. When in doubt we send again: a
repeated alert costs less than a missed one about a missing child. But only a dead claim is
recovered: each claim names its instance (`claimed_by`) and has a lease, renewed by that
instance's beats, so with several instances on one database (or a second one starting)
nobody takes back the messages another live instance is sending (bot/instances.py).

Urgent first: messages go most urgent first, oldest first within an urgency, and several
recipients' messages are sent at once ("lanes", `batch` of them), each recipient's one at a
time and in order (storage/outbox_store.py claim_outbox). The platforms pace the sends
(Telegram's limiter, Slack's channel pacer). A pass claims only as many messages as it has
free lanes, and claims again as each send finishes or as soon as something new is queued
(`deliver_due` during a pass), so an urgent alert waits for one lane to free, not for a whole
claimed batch of routine messages at the platform's pace.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from bot import merging
from config.citations import split_footer
from handlers import notices
from reminders.clock import Clock
from reminders.formatting import duration
from storage import claims, outbox_store
from storage.claims import CLAIM_LEASE
from storage.db import Database, Tx
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

Sender = Callable[[OutboxMessage], Awaitable[None]]
Undeliverable = Callable[[Tx, OutboxMessage, str], Awaitable[None]]

LATE_AFTER = timedelta(minutes=1)
LANES = 8  # messages in flight at once: an urgent alert waits behind at most this many
MAX_BACKOFF = timedelta(minutes=5)
MAX_ATTEMPTS = 50  # about four hours of retries at the capped backoff
# An instance whose heartbeat is older than this is dead: its claims are given back at once.
# Three missed beats (bot/instances.py beats every 2 s), as long as a singleton's lease.
HOLDER_DEAD_AFTER = timedelta(seconds=6)


class PermanentDeliveryError(Exception):
    """The platform will never accept this message (chat gone, bot blocked, a 4xx refusal
    other than 429): given up at once, the reason recorded, and a climb moves on."""


class RetryLater(Exception):
    """The platform asked us to wait (HTTP 429 Retry-After)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 12)), MAX_BACKOFF)


class OutboxDelivery:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        send: Sender,
        batch: int = LANES,
        on_undeliverable: Undeliverable | None = None,
        holder: str | None = None,
        claim_lease: timedelta = CLAIM_LEASE,
        holder_dead_after: timedelta = HOLDER_DEAD_AFTER,
    ) -> None:
        self.db = db
        # The instance whose heartbeat vouches for this delivery's claims; unregistered (a
        # console, a test) its claims count as dead to any recovery but its own pass's.
        self.holder = holder or f"unregistered:{secrets.token_hex(4)}"
        self.claim_lease = claim_lease
        self.holder_dead_after = holder_dead_after
        self.clock = clock
        self.send = send
        self.batch = batch  # lanes: messages in flight at once, one per recipient
        # e.g. a climb moves on to the next person when this one can't be reached
        self.on_undeliverable = (
            merging.for_each_carried(on_undeliverable) if on_undeliverable else None
        )
        self._one_pass = asyncio.Lock()
        self._look_again = asyncio.Event()  # set by deliver_due while a pass is under way
        self._background: asyncio.Task[None] | None = None  # a pass `kick` started
        # After a pass `kick` started has ended (the heartbeat looks at the outbox's next due
        # time again: while a pass runs, the pass itself claims as lanes free).
        self.on_idle: Callable[[], Awaitable[object]] | None = None

    async def recover(self) -> int:
        """At start-up, and now and then: rows a dead instance left mid-send, or whose claim
        has run out, are pending again; a live instance's messages in flight stay its own.
        Reads first, so a check that finds nothing commits nothing."""
        now = self.clock.now()
        lease, dead = self.claim_lease, self.holder_dead_after
        if not await outbox_store.has_stale_claims(self.db, now, lease, dead):
            return 0
        async with self.db.write() as tx:
            return await outbox_store.release_stale_claims(tx, now, lease, dead)

    async def _give_up(self, message: OutboxMessage, reason: str) -> None:
        """Record the failure and let the climb move on, in one transaction: both or neither."""
        async with self.db.write() as tx:
            await outbox_store.mark_failed(tx, message.id, reason)
            if notices.is_notice(message):  # the sender hears what to do instead
                await notices.on_failed(tx, message, reason, self.clock.now())
            if self.on_undeliverable is not None:
                await self.on_undeliverable(tx, message, reason)

    async def deliver_due(self) -> int:
        """Send everything due now; returns how many this call sent. One pass at a time (the
        heartbeat's jobs and a command's kick may overlap; two passes could each take one of
        a recipient's messages and send them out of order): a call during a pass first tells
        that pass to claim again at once (an urgent alert just queued goes into the next free
        lane), then waits its turn and sends whatever is left."""
        self._look_again.set()
        async with self._one_pass:
            return await self._deliver_pass()

    def kick(self) -> None:
        """Deliver soon, without waiting (the heartbeat: a sweep that fired an alert is not
        held up behind a backlog a pass is draining at the platforms' pace). A pass under
        way claims again at once; otherwise one starts in the background."""
        self._look_again.set()
        if self._one_pass.locked() or (self._background and not self._background.done()):
            return
        self._background = asyncio.create_task(self._deliver_in_background())

    @property
    def busy(self) -> bool:
        """A pass is under way."""
        return self._one_pass.locked()

    async def _deliver_in_background(self) -> None:
        try:
            await self.deliver_due()
        except Exception:  # noqa: BLE001 - the next kick or the safety net tries again
            log.exception("outbox delivery failed")
        if self.on_idle is not None:
            try:
                await self.on_idle()
            except Exception:  # noqa: BLE001 - the safety net wakes it in any case
                log.exception("after delivery")

    def stop(self) -> None:
        """At shutdown: a background pass stops (what it had in flight is sent again)."""
        if self._background is not None:
            self._background.cancel()

    async def _claim(self, lanes: int) -> list[OutboxMessage]:
        now = self.clock.now()
        # alone: on PostgreSQL the claims' shared lock is the transaction's first wait
        async with self.db.write(alone=True) as tx:
            claimed = await claims.claim_outbox(tx, now, lanes)  # instances in turn
            claimed = await merging.merge_claimed(tx, claimed, now)  # one person, one episode
            await outbox_store.stamp_claims(tx, [m.id for m in claimed], self.holder, now)
            return claimed

    async def _deliver_pass(self) -> int:
        sent = 0
        lanes: set[asyncio.Task[int | BaseException]] = set()
        look_again = asyncio.ensure_future(self._look_again.wait())
        try:
            while True:
                self._look_again.clear()
                if len(lanes) < self.batch:
                    for message in await self._claim(self.batch - len(lanes)):
                        lanes.add(asyncio.create_task(self._lane(message)))
                if not lanes:
                    return sent  # nothing in flight and nothing more due
                if look_again.done():
                    look_again = asyncio.ensure_future(self._look_again.wait())
                done, _ = await asyncio.wait({*lanes, look_again}, return_when=FIRST_COMPLETED)
                for lane in done - {look_again}:
                    lanes.discard(lane)
                    result = lane.result()
                    if isinstance(result, BaseException):
                        raise result
                    sent += result
                # claim again: a lane is free, something new was queued, or delivering queued
                # more (an unreachable person's alert moving on)
        finally:
            look_again.cancel()
            for lane in lanes:
                lane.cancel()
            if lanes:
                await asyncio.gather(*lanes, return_exceptions=True)

    async def _lane(self, message: OutboxMessage) -> int | BaseException:
        """One message on its own: what it raised comes back as a value, so the pass raises it
        (a crash between send and mark stops the pass as it did one message at a time)."""
        try:
            return await self._deliver_one(message)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - re-raised by the pass
            return exc

    async def _deliver_one(self, message: OutboxMessage) -> int:
        now = self.clock.now()
        late = now - message.due_at
        if late > LATE_AFTER:
            body, footer = split_footer(message.text)  # the note belongs above the footer
            noted = f"{body}\n(late by {duration(late)})"
            message = replace(message, text=noted if footer is None else f"{noted}\n{footer}")
        try:
            await self.send(message)
        except PermanentDeliveryError as exc:
            log.error("message %s undeliverable: %s", message.id, type(exc).__name__)
            await self._give_up(message, str(exc))
            return 0
        except Exception as exc:  # noqa: BLE001 - any transport failure is retried
            wait = (
                timedelta(seconds=exc.seconds)
                if isinstance(exc, RetryLater)
                else backoff(message.attempts)
            )
            log.warning(
                "message %s attempt %s failed (%s); retry in %s",
                message.id,
                message.attempts,
                type(exc).__name__,
                wait,
            )
            if message.attempts >= MAX_ATTEMPTS:
                await self._give_up(message, f"gave up after {message.attempts} attempts")
            else:
                async with self.db.write() as tx:
                    await outbox_store.mark_retry(tx, message.id, now + wait, repr(exc))
            return 0
        if notices.is_notice(message):  # a formal notice: sent, on the timeline, at once
            async with self.db.write() as tx:
                await outbox_store.mark_sent(tx, message.id, self.clock.now())
                await notices.on_sent(tx, message, self.clock.now())
            return 1
        await outbox_store.mark_sent(self.db, message.id, self.clock.now())
        return 1
