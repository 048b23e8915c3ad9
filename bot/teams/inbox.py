"""Teams activities that survive a crash: a typed command or a card press is stored in the
inbox before the Bot Connector hears our 200, and one left unhandled is carried out at the next
start, or, if its command had already been carried out (its write marked it applied in the
same transaction), the person is told it was recorded. The Bot Connector's retry of the same
activity (same conversation and activity id) is acknowledged and not carried out again. Each
stored activity names the instance holding it: every instance serves the messaging endpoint,
so replay takes only what no live instance holds, at start and on every beat, when a survivor
carries out what a dead one stored and never handled.
(Slack's requests are kept the same way: bot/slack/inbox.py.)
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.delivery import HOLDER_DEAD_AFTER
from handlers.context import Services
from handlers.messages import recorded_before_restart
from storage import inbox_store
from storage.inbox_store import Pending

log = logging.getLogger(__name__)

NAME = "teams"
_MENTION = re.compile(r"<at[^>]*>.*?</at>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
NOT_STORED = "I couldn't save that just now, so nothing was done. Please send it again."

Activity = dict[str, Any]
Run = Callable[[Activity], Awaitable[dict[str, Any] | None]]  # an invoke's answer, or None
Tell = Callable[[str, str], Awaitable[object]]  # (Teams user id, text): to them privately


def activity_key(activity: Activity) -> int:
    """The inbox id of an activity: its conversation and id, the same on the connector's
    retries and on a replay."""
    conversation = base_id(str((activity.get("conversation") or {}).get("id") or ""))
    unique = f"{conversation}|{activity.get('id') or json.dumps(activity, sort_keys=True)}"
    return int.from_bytes(hashlib.blake2b(unique.encode(), digest_size=7).digest(), "big")


def base_id(conversation_id: str) -> str:
    return conversation_id.split(";", 1)[0]


def sender_of(activity: Activity) -> str:
    return str((activity.get("from") or {}).get("id") or "")


def typed_text(activity: Activity) -> str:
    """What the person typed, without the @mention of the bot and Teams' HTML."""
    text = str(activity.get("text") or "")
    text = _MENTION.sub(" ", text)
    text = _TAG.sub(" ", text.replace("<br>", "\n"))
    return " ".join(html.unescape(text).split())


def what_was_asked(activity: Activity) -> str:
    if activity.get("type") == "invoke":
        data = ((activity.get("value") or {}).get("action") or {}).get("data") or {}
        label = data.get("label") if isinstance(data, dict) else None
        return f"press of {label}" if label else "report form"
    return (typed_text(activity) or "message")[:60]


class Jobs:
    """Work done after the 200 (answers, deliveries): tracked for a clean stop; failures
    logged by kind, never with what was typed."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def start(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(self.run(what, work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def run(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - the person was answered or will retry
            log.error("teams %s failed: %s", what, type(exc).__name__, exc_info=exc)

    async def settle(self, timeout: float) -> None:
        current = asyncio.current_task()
        pending = {t for t in self._running if not t.done() and t is not current}
        if pending:
            await asyncio.wait(pending, timeout=timeout)


class DurableActivities:
    def __init__(self, svc: Services, run: Run) -> None:
        self.svc = svc
        self.run = run
        self.holder = inbox_store.unregistered()  # this instance, by its id (bot/app.py)
        self._in_turn = asyncio.Lock()  # what was taken over is carried out in order
        self._adopting: set[asyncio.Task[int]] = set()

    async def keep(self, activity: Activity) -> bool | None:
        """Store before the 200. True: new, to carry out; False: already kept (a retry);
        None: it could not be stored (the person is told to send it again)."""
        key = activity_key(activity)
        try:
            return await inbox_store.store(
                self.svc.db,
                NAME,
                key,
                json.dumps({"activity": activity}),
                self.svc.clock.now(),
                self.holder,
            )
        except Exception as exc:  # noqa: BLE001 - refused with a 500: the connector retries
            log.error("could not store a teams activity: %s", type(exc).__name__)
            return None

    async def carry_out(self, activity: Activity) -> dict[str, Any] | None:
        """Carry out a stored activity; its writes mark it applied, so a replay never redoes it."""
        key = activity_key(activity)
        try:
            with inbox_store.applying(NAME, key, self.svc.clock.now()):
                answer = await self.run(activity)
        except asyncio.CancelledError:
            raise  # stopping, like a crash: replayed at the next start
        except Exception:
            await inbox_store.mark_handled(self.svc.db, NAME, [key], self.svc.clock.now())
            raise  # logged by the caller; not replayed again and again
        await inbox_store.mark_handled(self.svc.db, NAME, [key], self.svc.clock.now())
        return answer

    async def replay(self, tell: Tell) -> int:
        """At start: activities stored but not handled that no live instance holds (this
        instance's previous life's, a dead one's), taken over and carried out, oldest first."""
        async with self._in_turn:
            return await self._carry_out_all(await self._claim(own=True), tell)

    async def adopt(self, tell: Tell) -> int:
        """On the instance's beat: what a dead instance stored and never handled is taken
        over now and carried out in the background (the beat is not held up). How many."""
        claimed = await self._claim(own=False)
        if claimed:
            task = asyncio.create_task(self._adopted(claimed, tell))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)
        return len(claimed)

    async def settle(self, timeout: float) -> None:
        """Wait for what was taken over on a beat to be carried out."""
        if self._adopting:
            await asyncio.wait(set(self._adopting), timeout=timeout)

    async def _adopted(self, claimed: list[Pending], tell: Tell) -> int:
        async with self._in_turn:
            return await self._carry_out_all(claimed, tell)

    async def _claim(self, own: bool) -> list[Pending]:
        return await inbox_store.claim_unhandled(
            self.svc.db,
            NAME,
            self.holder,
            self.svc.clock.now(),
            HOLDER_DEAD_AFTER,
            own=own,
            by_arrival=True,
        )

    async def _carry_out_all(self, claimed: list[Pending], tell: Tell) -> int:
        replayed = 0
        for pending in claimed:
            activity = _read(pending.payload)
            try:
                if activity is not None and pending.applied_at is not None:
                    await tell(
                        sender_of(activity),
                        recorded_before_restart(
                            what_was_asked(activity), pending.applied_at, self.svc.display_zone
                        ),
                    )
                elif activity is not None:
                    await self.carry_out(activity)
                    replayed += 1
                    continue
            except Exception as exc:  # noqa: BLE001 - one bad activity must not stop the start
                log.error("teams replay failed: %s", type(exc).__name__, exc_info=exc)
            await inbox_store.mark_handled(
                self.svc.db, NAME, [pending.update_id], self.svc.clock.now()
            )
        return replayed


def _read(payload: str | None) -> Activity | None:
    try:
        stored = json.loads(payload) if payload else None
    except ValueError:
        return None
    activity = stored.get("activity") if isinstance(stored, dict) else None
    return activity if isinstance(activity, dict) else None
