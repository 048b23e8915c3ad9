"""Telegram updates that survive a crash, handled in order per person.

python-telegram-bot confirms a polled batch (the next getUpdates offset) as soon as it has
queued it, and a webhook's 200 goes back as soon as the update is queued: a crash before
the handler finishes would lose a carer's report. Here the queue's `put` writes the update
to the inbox, and Telegram hears we have it only once that is on disk (the next getUpdates
waits for it; a webhook's `put` does); the processor marks it handled only after its
handlers have finished; start-up replays what was left. Each stored update names the
instance holding it (`holder`): replay takes only what nobody live holds, so with several
instances (the webhook is served by all) none replays what another is handling now, and a
survivor takes over on its beat what a dead one stored but never handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot.delivery import HOLDER_DEAD_AFTER
from reminders.clock import Clock
from storage import inbox_store
from storage.db import Database, OnDisk

log = logging.getLogger(__name__)

MAX_CONCURRENT = 4096  # people's updates in flight at once; one person's run one at a time
MARK_BATCH = 5000  # ids in one statement, 4 parameters each (SQLite allows 32,766)
PRUNE_EVERY = timedelta(hours=1)  # handled ids are forgotten after a day (storage/inbox_store.py)


class DurableUpdateQueue(asyncio.Queue[object]):
    """The Application's update queue. An update is in the inbox before Telegram hears we
    have it: when polling, the next getUpdates waits for `on_disk` (the update is handled
    meanwhile, so its reply is not held up by an fsync); a webhook's `put` waits itself."""

    def __init__(
        self, db: Database, clock: Clock, transport: str, holder: str | None = None
    ) -> None:
        super().__init__()
        self.db = db
        self.clock = clock
        self.transport = transport
        self.holder = holder or inbox_store.unregistered()  # this instance, by its id
        self.wait_for_disk = True  # a webhook's 200 goes back when `put` returns
        self._on_the_way: list[tuple[int, str, OnDisk]] = []
        self.queued: set[int] = set()  # passed on to be handled, not yet handled

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            payload = json.dumps(item.to_dict(), ensure_ascii=False)
            try:
                stored, on_disk = await inbox_store.store_soon(
                    self.db, self.transport, item.update_id, payload, self.clock.now(), self.holder
                )
                if self.wait_for_disk:
                    await on_disk
            except Exception as exc:
                raise _not_stored(exc) from exc
            if not stored:
                return  # already kept: being replayed, or handled before a restart
            if not self.wait_for_disk:
                self._on_the_way.append((item.update_id, payload, on_disk))
            self.queued.add(item.update_id)
        await super().put(item)

    async def on_disk(self) -> None:
        """Every update fetched so far is on disk: called before each getUpdates, whose
        offset tells Telegram to forget them. One whose commit failed is stored again."""
        while self._on_the_way:
            update_id, payload, on_disk = self._on_the_way[0]
            try:
                await on_disk
            except Exception:  # noqa: BLE001 - the batch it joined was lost: store it alone
                try:
                    await inbox_store.store(
                        self.db, self.transport, update_id, payload, self.clock.now(), self.holder
                    )
                except Exception as exc:
                    raise _not_stored(exc) from exc
            self._on_the_way.pop(0)

    async def replay(self, bot: Bot, applied: dict[int, datetime], own: bool = True) -> int:
        """Take over and queue what was stored but not handled, oldest first: at start (and
        on gaining the polling) what this instance's previous life, a dead instance or the
        last poller left; `own=False` (on the instance's beat) only what dead ones left.
        `applied` is filled, before anything is queued, with {update_id: applied_at} for
        those whose command had already been carried out. Returns how many were queued."""
        updates: list[Update] = []
        skipped: list[int] = []
        claimed = await inbox_store.claim_unhandled(
            self.db, self.transport, self.holder, self.clock.now(), HOLDER_DEAD_AFTER, own=own
        )
        for pending in claimed:
            if pending.update_id in self.queued:
                continue  # this process has it in hand already (polling taken back)
            if pending.payload is None:  # its command was carried out; only that was kept
                skipped.append(pending.update_id)
                continue
            try:
                updates.append(Update.de_json(json.loads(pending.payload), bot))
            except (ValueError, TypeError, KeyError):
                log.error("inbox update %s could not be read; skipped", pending.update_id)
                skipped.append(pending.update_id)
                continue
            if pending.applied_at is not None:
                applied[pending.update_id] = pending.applied_at
        if skipped:
            await inbox_store.mark_handled(self.db, self.transport, skipped, self.clock.now())
        for update in updates:
            self.queued.add(update.update_id)
            super().put_nowait(update)
        if updates:
            log.info("replaying %d telegram updates left unhandled", len(updates))
        return len(updates)


def _not_stored(exc: Exception) -> TelegramError:
    # As a TelegramError the poller backs off and asks again without confirming (any other
    # error would end polling), and a webhook answers 500: either way nothing is lost.
    log.error("could not store telegram update: %s", type(exc).__name__)
    return TelegramError("the update could not be stored; it will come again")


class HandledMarks:
    """Marks updates handled, all that finished meanwhile in one statement: under load the
    database's single writer would otherwise spend a turn on every update."""

    def __init__(self, db: Database, clock: Clock, transport: str) -> None:
        self.db = db
        self.clock = clock
        self.transport = transport
        self._pending: list[int] = []
        self._writing: asyncio.Task[None] | None = None
        self._pruned_at: datetime | None = None

    def add(self, update_id: int) -> None:
        self._pending.append(update_id)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())

    async def flush(self) -> None:
        """Before the database closes: nothing left unwritten."""
        while self._writing is not None and not self._writing.done():
            await self._writing

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MARK_BATCH], self._pending[MARK_BATCH:]
            now = self.clock.now()
            try:
                await inbox_store.mark_handled(self.db, self.transport, batch, now)
                if self._pruned_at is None or now - self._pruned_at > PRUNE_EVERY:
                    self._pruned_at = now
                    await inbox_store.prune(self.db, now)
            except Exception:  # noqa: BLE001 - tried again with the next mark, and at stop
                log.exception("could not mark %d telegram updates handled", len(batch))
                self._pending[:0] = batch
                return


class PerPersonProcessor(BaseUpdateProcessor):
    """Many people's updates at once; one person's in the order they sent them. Each update
    is marked handled once every handler for it has finished (handlers must block)."""

    def __init__(
        self,
        on_handled: Callable[[Update], Awaitable[None]],
        max_concurrent_updates: int = MAX_CONCURRENT,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._on_handled = on_handled
        self._people: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        person = _person(update)
        lock, users = self._people.get(person, (asyncio.Lock(), 0))
        self._people[person] = (lock, users + 1)
        try:
            async with lock:
                await coroutine  # cancelled (shutting down): not marked, so replayed next start
                if isinstance(update, Update):
                    await self._mark(update)
        finally:
            lock, users = self._people[person]
            if users == 1:
                del self._people[person]  # nobody else waiting: don't keep a lock per person
            else:
                self._people[person] = (lock, users - 1)

    async def _mark(self, update: Update) -> None:
        try:
            await self._on_handled(update)
        except Exception:  # noqa: BLE001 - the update is replayed at the next start instead
            log.exception("could not mark telegram update %s handled", update.update_id)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _person(update: object) -> int:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return 0
