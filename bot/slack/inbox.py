"""Slack requests that survive a crash: a slash command, button press or direct message is
stored before Slack hears we have it (the ack), and one left unhandled is carried out at the
next start, or, if its command had already been carried out, the person is told it was
recorded. A direct message is kept by its event_id, so Slack's retry of it, or a replay of the
same signed event after a restart, is not carried out twice. Each stored request names the
instance holding it: every instance serves Slack (HTTP behind a load balancer, or a socket
each), so replay takes only what no live instance holds, at start and on every beat, when a
survivor carries out what a dead one stored and never handled.
(Telegram's updates are kept the same way: bot/telegram/inbox.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.delivery import HOLDER_DEAD_AFTER
from bot.slack.sender import NAME
from handlers.context import Services
from handlers.messages import recorded_before_restart
from storage import inbox_store
from storage.inbox_store import Pending

log = logging.getLogger(__name__)

NOT_STORED = "I couldn't save that just now, so nothing was done. Please send it again."

# Carries out a stored request ({"command": body}, {"press": body, "action": action} or
# {"message": event}),
# answering through `respond`.
Run = Callable[[dict[str, Any], Any], Awaitable[None]]
Say = Callable[[Any, str], Awaitable[None]]  # (respond, text): to the person who asked
DirectMessage = Callable[[str, str], Awaitable[object]]  # (user id, text)


def event_key(body: dict[str, Any]) -> int:
    """The inbox id of a slash command or button press: from its trigger_id, unique to it."""
    unique = str(body.get("trigger_id") or json.dumps(body, sort_keys=True))
    return int.from_bytes(hashlib.blake2b(unique.encode(), digest_size=7).digest(), "big")


def message_key(event_id: str) -> int:
    """The inbox id of an Events API delivery (a direct message): from its event_id, the same
    on Slack's retries and on a replay of the same signed request."""
    digest = hashlib.blake2b(f"event:{event_id}".encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big")


def is_direct_text(event: dict[str, Any]) -> bool:
    """A person's own message in their direct chat with the app (not an edit, not a bot's)."""
    return (
        event.get("channel_type") == "im" and not event.get("bot_id") and not event.get("subtype")
    )


def read_stored(payload: str | None) -> dict[str, Any] | None:
    """{"command": body}, {"press": body, "action": action} or {"message": event}, as `keep`
    or `keep_message` stored it."""
    try:
        stored = json.loads(payload) if payload else None
    except ValueError:
        return None
    if not isinstance(stored, dict):
        return None
    if isinstance(stored.get("command"), dict) or isinstance(stored.get("message"), dict):
        return stored
    if isinstance(stored.get("press"), dict) and isinstance(stored.get("action"), dict):
        return stored
    return None


def what_was_asked(stored: dict[str, Any]) -> str:
    if "command" in stored:
        body = stored["command"]
        return f"{body.get('command', '')} {body.get('text', '')}".strip()[:60]
    if "message" in stored:
        return str(stored["message"].get("text") or "message").strip()[:60]
    action = stored["action"]
    return f"press of {(action.get('text') or {}).get('text') or 'a button'}"


def who_asked(body: dict[str, Any]) -> str:
    """The Slack user id of a stored command ("user_id"), press ("user": {"id"}) or message."""
    user = body.get("user")
    if isinstance(user, str):
        return user
    return str(body.get("user_id") or (user or {}).get("id") or "")


class Jobs:
    """Listeners' work after ack(): tracked for a clean stop; failures logged, with no text."""

    def __init__(self) -> None:
        self._inflight: set[asyncio.Task[Any]] = set()

    @contextlib.asynccontextmanager
    async def job(self, what: str) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - the user was answered or will retry
            log.error("slack %s failed: %s", what, type(exc).__name__, exc_info=exc)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def settle(self, timeout: float) -> None:
        """Wait for work that listeners do after acknowledging (answers, deliveries) to end."""
        current = asyncio.current_task()
        pending = {t for t in self._inflight if not t.done() and t is not current}
        if pending:
            await asyncio.wait(pending, timeout=timeout)


class DurableRequests:
    def __init__(self, svc: Services, jobs: Jobs, run: Run) -> None:
        self.svc = svc
        self.jobs = jobs
        self.run = run
        self.holder = inbox_store.unregistered()  # this instance, by its id (bot/app.py)
        self._in_turn = asyncio.Lock()  # what was taken over is carried out in order
        self._adopting: set[asyncio.Task[None]] = set()

    async def keep(
        self, ack: Any, stored: dict[str, Any], body: dict[str, Any], respond: Any, say: Say
    ) -> None:
        """Store a slash command or button press before Slack hears we have it (the ack),
        so a crash before it is handled replays it at the next start instead of losing a
        carer's report (as Telegram's updates are kept)."""
        key = event_key(body)
        try:
            new = await inbox_store.store(
                self.svc.db, NAME, key, json.dumps(stored), self.svc.clock.now(), self.holder
            )
        except Exception as exc:  # noqa: BLE001 - the person is told to send it again
            log.error("could not store a slack request: %s", type(exc).__name__)
            if "command" in stored:
                await ack(text=NOT_STORED)
            else:
                await ack()
                with contextlib.suppress(Exception):
                    await say(respond, NOT_STORED)
            return
        await ack()  # within Slack's three seconds; the answer follows
        if new:  # not new: the same request again, already kept
            async with self.jobs.job("command" if "command" in stored else "button"):
                await self.carry_out(key, stored, respond)

    async def keep_message(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]], dm: DirectMessage
    ) -> BoltResponse | None:
        """Bolt middleware for `message` events, run before Bolt's automatic ack: a direct
        message is stored by its event_id first, so a crash after the ack replays it, and the
        same event again (Slack's retry, or a replay after a restart) is acknowledged and not
        carried out. Other messages go on to the listener, which ignores them."""
        event = body.get("event") or {}
        event_id = str(body.get("event_id") or "")
        if not isinstance(event, dict) or not is_direct_text(event) or not event_id:
            await next()
            return None
        key = message_key(event_id)
        try:
            new = await inbox_store.store(
                self.svc.db,
                NAME,
                key,
                json.dumps({"message": event}),
                self.svc.clock.now(),
                self.holder,
            )
        except Exception as exc:  # noqa: BLE001 - the person is told to send it again
            log.error("could not store a slack message: %s", type(exc).__name__)
            with contextlib.suppress(Exception):
                await dm(str(event.get("user") or ""), NOT_STORED)
            return BoltResponse(status=200, body="")
        if not new:
            return BoltResponse(status=200, body="")  # already kept: acknowledged, not redone
        await next()
        return None

    async def carry_out(self, key: int, stored: dict[str, Any], respond: Any) -> None:
        """Carry out a stored request; its writes mark it applied, so a replay never redoes it."""
        try:
            with inbox_store.applying(NAME, key, self.svc.clock.now()):
                await self.run(stored, respond)
        except asyncio.CancelledError:
            raise  # stopping, like a crash: replayed at the next start
        except Exception:
            await inbox_store.mark_handled(self.svc.db, NAME, [key], self.svc.clock.now())
            raise  # logged by the job; not replayed again and again
        await inbox_store.mark_handled(self.svc.db, NAME, [key], self.svc.clock.now())

    async def replay(self, dm: DirectMessage) -> None:
        """At start: requests stored but not handled that no live instance holds (this
        instance's previous life's, a dead one's), taken over and carried out, oldest first."""
        async with self._in_turn:
            await self._carry_out_all(await self._claim(own=True), dm)

    async def adopt(self, dm: DirectMessage) -> int:
        """On the instance's beat: what a dead instance stored and never handled is taken
        over now and carried out in the background (the beat is not held up). How many."""
        claimed = await self._claim(own=False)
        if claimed:
            task = asyncio.create_task(self._adopted(claimed, dm))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)
        return len(claimed)

    async def settle(self, timeout: float) -> None:
        """Wait for what was taken over on a beat to be carried out."""
        if self._adopting:
            await asyncio.wait(set(self._adopting), timeout=timeout)

    async def _adopted(self, claimed: list[Pending], dm: DirectMessage) -> None:
        async with self._in_turn:
            await self._carry_out_all(claimed, dm)

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

    async def _carry_out_all(self, claimed: list[Pending], dm: DirectMessage) -> None:
        for pending in claimed:
            async with self.jobs.job("replayed request"):
                stored = read_stored(pending.payload)
                body = stored and (
                    stored.get("command") or stored.get("press") or stored.get("message")
                )
                if stored and body and pending.applied_at is not None:
                    await dm(
                        who_asked(body),
                        recorded_before_restart(
                            what_was_asked(stored), pending.applied_at, self.svc.display_zone
                        ),
                    )
                elif stored and body:
                    respond = AsyncRespond(response_url=body.get("response_url"))
                    await self.carry_out(pending.update_id, stored, respond)
                    continue
                await inbox_store.mark_handled(
                    self.svc.db, NAME, [pending.update_id], self.svc.clock.now()
                )
