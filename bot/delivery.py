"""Delivers the outbox: claim, send, mark, in separate transactions, with retries.

A crash between send and mark leaves the row 'sending'; recovery puts it back to pending
and it is sent again under the same idempotency key. When in doubt we send again: a
repeated alert costs less than a missed one about a missing child. But only a dead claim is
recovered: each claim names its instance (`claimed_by`) and has a lease, renewed by that
instance's beats, so with several instances on one database (or a second one starting)
nobody takes back the messages another live instance is sending (bot/instances.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot import merging
from config.citations import split_footer
from reminders.clock import Clock
from reminders.formatting import duration
from storage import outbox_store
from storage.db import Database, Tx
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

Sender = Callable[[OutboxMessage], Awaitable[None]]
Undeliverable = Callable[[Tx, OutboxMessage, str], Awaitable[None]]

LATE_AFTER = timedelta(minutes=1)
MAX_BACKOFF = timedelta(minutes=5)
MAX_ATTEMPTS = 50  # about four hours of retries at the capped backoff
# A claim not renewed for this long is given back. Its instance's beats renew it (every
# 2 s, bot/instances.py), so this bounds only a claim whose renewals stopped.
CLAIM_LEASE = timedelta(minutes=2)
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
        batch: int = 50,
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
        self.batch = batch
        # e.g. a climb moves on to the next person when this one can't be reached
        self.on_undeliverable = (
            merging.for_each_carried(on_undeliverable) if on_undeliverable else None
        )
        self._one_pass = asyncio.Lock()

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
            if self.on_undeliverable is not None:
                await self.on_undeliverable(tx, message, reason)

    async def deliver_due(self) -> int:
        """Send everything due now, one message at a time; returns how many were sent.
        One pass at a time (the heartbeat's jobs and a command's kick may overlap): two passes
        could each take one of a recipient's messages and send them out of order."""
        async with self._one_pass:
            return await self._deliver_pass()

    async def _deliver_pass(self) -> int:
        sent = 0
        while True:
            now = self.clock.now()
            async with self.db.write() as tx:
                claimed = await outbox_store.claim_outbox(tx, now, self.batch)
                claimed = await merging.merge_claimed(tx, claimed)  # one person, one episode
                await outbox_store.stamp_claims(tx, [m.id for m in claimed], self.holder, now)
            if not claimed:
                return sent
            held: dict[str, datetime] = {}  # recipient -> when its failed message retries
            for message in claimed:
                if message.recipient in held:  # keep the chat's order: wait behind it
                    async with self.db.write() as tx:
                        await outbox_store.release_claim(tx, message.id, held[message.recipient])
                    continue
                delivered = await self._deliver_one(message)
                sent += delivered
                if not delivered and message.attempts < outbox_store.HOLDS_ORDER_FOR:
                    retry = await outbox_store.retry_time(self.db, message.id)
                    if retry is not None:
                        held[message.recipient] = retry
            # loop again: delivering may have queued more (an unreachable person's alert moving on)

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
        await outbox_store.mark_sent(self.db, message.id, self.clock.now())
        return 1
