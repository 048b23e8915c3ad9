"""Teams activities that survive a crash: a typed command or a card press is stored in the
inbox before the Bot Connector hears our 200, and one left unhandled is carried out at the next
start, or, if its command had already been carried out (its write marked it applied in the
same transaction), the person is told it was recorded. The Bot Connector's retry of the same
activity (same conversation and activity id) is acknowledged and not carried out again.
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

from handlers.context import Services
from handlers.messages import recorded_before_restart
from storage import inbox_store

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

    async def keep(self, activity: Activity) -> bool | None:
        """Store before the 200. True: new, to carry out; False: already kept (a retry);
        None: it could not be stored (the person is told to send it again)."""
        key = activity_key(activity)
        try:
            return await inbox_store.store(
                self.svc.db, NAME, key, json.dumps({"activity": activity}), self.svc.clock.now()
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
        """Activities stored but not handled when the bot last stopped, oldest first."""
        replayed = 0
        for pending in await inbox_store.unhandled(self.svc.db, NAME):
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
