"""Slack requests that survive a crash: a slash command or button press is stored before
Slack hears we have it (the ack), and one left unhandled is carried out at the next start,
or, if its command had already been carried out, the person is told it was recorded.
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

from bot.slack.sender import NAME
from handlers.context import Services
from handlers.messages import recorded_before_restart
from storage import inbox_store

log = logging.getLogger(__name__)

NOT_STORED = "I couldn't save that just now, so nothing was done. Please send it again."

# Carries out a stored request ({"command": body} or {"press": body, "action": action}),
# answering through `respond`.
Run = Callable[[dict[str, Any], Any], Awaitable[None]]
Say = Callable[[Any, str], Awaitable[None]]  # (respond, text): to the person who asked
DirectMessage = Callable[[str, str], Awaitable[object]]  # (user id, text)


def event_key(body: dict[str, Any]) -> int:
    """The inbox id of a slash command or button press: from its trigger_id, unique to it."""
    unique = str(body.get("trigger_id") or json.dumps(body, sort_keys=True))
    return int.from_bytes(hashlib.blake2b(unique.encode(), digest_size=7).digest(), "big")


def read_stored(payload: str | None) -> dict[str, Any] | None:
    """{"command": body} or {"press": body, "action": action}, as `keep` stored it."""
    try:
        stored = json.loads(payload) if payload else None
    except ValueError:
        return None
    if not isinstance(stored, dict):
        return None
    if isinstance(stored.get("command"), dict):
        return stored
    if isinstance(stored.get("press"), dict) and isinstance(stored.get("action"), dict):
        return stored
    return None


def what_was_asked(stored: dict[str, Any]) -> str:
    if "command" in stored:
        body = stored["command"]
        return f"{body.get('command', '')} {body.get('text', '')}".strip()[:60]
    action = stored["action"]
    return f"press of {(action.get('text') or {}).get('text') or 'a button'}"


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

    async def keep(
        self, ack: Any, stored: dict[str, Any], body: dict[str, Any], respond: Any, say: Say
    ) -> None:
        """Store a slash command or button press before Slack hears we have it (the ack),
        so a crash before it is handled replays it at the next start instead of losing a
        carer's report (as Telegram's updates are kept)."""
        key = event_key(body)
        try:
            new = await inbox_store.store(
                self.svc.db, NAME, key, json.dumps(stored), self.svc.clock.now()
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
        """Requests stored but not handled when the bot last stopped, oldest first."""
        for pending in await inbox_store.unhandled(self.svc.db, NAME):
            async with self.jobs.job("replayed request"):
                stored = read_stored(pending.payload)
                body = stored and (stored.get("command") or stored.get("press"))
                if stored and body and pending.applied_at is not None:
                    await dm(
                        str(body.get("user_id") or (body.get("user") or {}).get("id") or ""),
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
