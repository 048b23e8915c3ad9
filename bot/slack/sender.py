"""Slack, outgoing: messages, direct messages, files and redaction, paced per channel.

The outbox calls `send_direct`, `send_team` and `redact` (through the Slack platform). Slack's
answers map onto the outbox's: 429 → RetryLater(Retry-After), 5xx → RetryLater(backoff), a
person or channel that can't be reached → Unreachable, so the alert moves on; any other
refusal of the message (an error code, a 4xx) → PermanentDeliveryError, given up at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.button_seal import Seal
from bot.delivery import PermanentDeliveryError, RetryLater, backoff
from bot.router import Unreachable
from bot.slack.blocks import Block, escape, message_parts, section
from handlers.context import Services
from reminders.formatting import PROFILE_HEADING
from storage import chat_store, report_store, staff_store
from storage.models import Button, OutboxMessage

log = logging.getLogger(__name__)

NAME = "slack"
COMMENT_LIMIT = 3000  # text sent with a file; longer text goes as messages first
PATIENCE = 5.0  # seconds an interactive reply may wait out a 429 (the outbox waits longer)

# Slack error codes: a person who can't get direct messages any more (deactivated, left).
PERSON_GONE = frozenset(
    {"user_not_found", "user_disabled", "cannot_dm_bot", "messages_tab_disabled",
     "user_not_visible"}
)  # fmt: skip
# A channel the bot can't post to (deleted, archived, bot not a member of a private channel).
CHANNEL_GONE = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
# Slack's own trouble: try again later.
TRANSIENT = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)
# The app's own credentials refused: no message could go, so it is retried, not given up.
APP_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
     "missing_scope", "not_allowed_token_type", "team_access_not_granted"}
)  # fmt: skip
# Redaction: nothing left to clear.
ALREADY_GONE = frozenset(
    {"message_not_found", "cant_delete_message", "cant_update_message", "edit_window_closed",
     "channel_not_found", "is_archived"}
)  # fmt: skip


class _NoPayloads(logging.Filter):
    """Slack's libraries put request bodies (what people typed about children) in some log
    lines: keep only the words before the first bracket or colon."""

    _CUT = re.compile(r"[({\[:]")

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._CUT.split(record.getMessage(), 1)[0].strip()[:200]
        record.args = ()
        return True


def quiet_logger(name: str, level: int) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.setLevel(level)
    if not any(isinstance(f, _NoPayloads) for f in logger.filters):
        logger.addFilter(_NoPayloads())
    return logger


def no_debug_bodies() -> None:
    """slack_sdk and slack_bolt log whole requests and responses at DEBUG: never below INFO."""
    for name in ("slack_sdk", "slack_bolt"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


class ChannelPacer:
    """At most one message per `period` seconds into each channel (Slack: about one a second)."""

    def __init__(
        self,
        period: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.period = period
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, channel: str) -> None:
        if self.period <= 0:
            return
        async with self._locks.setdefault(channel, asyncio.Lock()):
            now = self._monotonic()
            due = self._next.get(channel, now)
            if due > now:
                await self._sleep(due - now)
                now = due
            self._next[channel] = now + self.period


def error_code(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def status_code(exc: SlackApiError) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def retry_after(exc: SlackApiError, default: float = 1.0) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return max(float(headers.get("Retry-After", default)), 0.0)
    except (TypeError, ValueError):
        return default


class SlackSender:
    def __init__(self, svc: Services, client: AsyncWebClient, pacer: ChannelPacer) -> None:
        self.svc = svc
        self.client = client
        self.pacer = pacer
        self._dm_channels: dict[str, str] = {}
        self.seal = Seal(str(client.token or ""))  # buttons the bot issued (seal.py)
        self.patience: tuple[float, ...] = (0.5, 2.0)  # waits before a patient call's retries

    # ---- posting ----------------------------------------------------------------------

    async def post(
        self,
        channel: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        footer: str | None = None,
        patient: bool = False,
    ) -> list[str]:
        """Post `text` (over several messages if long); returns the messages' ts."""
        sent = []
        for part in message_parts(text, buttons, footer, self.seal):
            args: dict[str, Any] = {
                "channel": channel,
                "text": part.text,
                "blocks": part.blocks,
                "unfurl_links": False,
                "unfurl_media": False,
            }
            if thread_ts:
                args["thread_ts"] = thread_ts
                if broadcast:
                    args["reply_broadcast"] = True
            response = await self._call(channel, patient, self.client.chat_postMessage, **args)
            sent.append(str(response["ts"]))
        return sent

    async def _call(
        self, pace: str, patient: bool, method: Callable[..., Awaitable[Any]], /, **args: Any
    ) -> Any:
        """One call, paced on channel `pace`. A patient call (an answer to someone waiting, not
        the outbox, which keeps its own retries) waits out a short 429 or a 5xx."""
        for delay in (*self.patience, None):
            if pace:
                await self.pacer.wait(pace)
            try:
                return await method(**args)
            except SlackApiError as exc:
                status = status_code(exc)
                wait = retry_after(exc) if status == 429 else delay
                if not patient or delay is None or wait is None or wait > PATIENCE:
                    raise
                if status != 429 and status < 500 and error_code(exc) not in TRANSIENT:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def dm_channel(self, user_id: str, patient: bool = True) -> str:
        """The bot's direct-message channel with a person (conversations.open, remembered)."""
        channel = self._dm_channels.get(user_id)
        if channel is None:
            response = await self._call("", patient, self.client.conversations_open, users=user_id)
            channel = str(response["channel"]["id"])
            self._dm_channels[user_id] = channel
        return channel

    async def dm(self, user_id: str, text: str, buttons: tuple[Button, ...] = ()) -> list[str]:
        return await self.post(await self.dm_channel(user_id), text, buttons, patient=True)

    async def update(self, channel: str, ts: str, text: str, blocks: list[Block]) -> None:
        await self._call(
            channel, True, self.client.chat_update, channel=channel, ts=ts, text=text,
            blocks=blocks,
        )  # fmt: skip

    # ---- the outbox -------------------------------------------------------------------

    async def send_direct(self, user_id: str, message: OutboxMessage) -> None:
        kind = "profile" if PROFILE_HEADING in message.text else "direct"
        try:
            channel = await self.dm_channel(user_id, patient=False)  # the outbox retries
            sent = await self._deliver(channel, message, None)
        except SlackApiError as exc:
            await self._fail(exc, message, person=user_id)
            raise
        await self._record(message, channel, sent, kind)

    async def send_team(self, channel: str, message: OutboxMessage) -> None:
        """Into the team's channel, in the episode's thread once there is one."""
        root = None
        if message.episode_id is not None:
            root = await chat_store.thread_root(self.svc.db, message.episode_id, NAME, channel)
        try:
            sent = await self._deliver(channel, message, root)
        except SlackApiError as exc:
            await self._fail(exc, message)
            raise
        await self._record(message, channel, sent, "file" if message.attachment_id else "group")

    async def _deliver(
        self, channel: str, message: OutboxMessage, thread_ts: str | None
    ) -> list[str]:
        if message.attachment_id is not None:
            return await self._upload(channel, message, thread_ts)
        # An alert that asks someone to act is also shown in the channel, not only the thread.
        broadcast = bool(message.buttons)
        return await self.post(
            channel, message.text, message.buttons, thread_ts=thread_ts, broadcast=broadcast
        )

    async def _upload(
        self, channel: str, message: OutboxMessage, thread_ts: str | None
    ) -> list[str]:
        assert message.attachment_id is not None
        attachment = await report_store.get_attachment(self.svc.db, message.attachment_id)
        if attachment is None:
            raise PermanentDeliveryError("the attached file is no longer stored")
        sent: list[str] = []
        comment: str | None = message.text
        if len(message.text) > COMMENT_LIMIT:
            sent = await self.post(channel, message.text, thread_ts=thread_ts)
            comment = None
        await self.pacer.wait(channel)
        response = await self.client.files_upload_v2(
            channel=channel,
            file=attachment.data,
            filename=attachment.filename,
            title=attachment.filename,
            initial_comment=comment,
            thread_ts=thread_ts,
        )
        file = response.get("file") or {}
        return [*sent, str(file.get("id") or "")]

    async def _fail(
        self, exc: SlackApiError, message: OutboxMessage, person: str | None = None
    ) -> None:
        """Tell the outbox what to do about a Slack error. Slack refusing this message (any
        other error code, or a 4xx status other than 429) is permanent: given up at once and
        the alert moves on; only its own trouble (5xx, transient codes) and the app's refused
        credentials (returns: retried) are tried again."""
        code, status = error_code(exc), status_code(exc)
        if status == 429 or code == "ratelimited":
            raise RetryLater(retry_after(exc)) from exc
        if status >= 500 or code in TRANSIENT:
            raise RetryLater(backoff(message.attempts).total_seconds()) from exc
        if person is not None and code in PERSON_GONE:
            async with self.svc.db.write() as tx:
                await staff_store.mark_blocked(tx, NAME, person, self.svc.clock.now())
            self._dm_channels.pop(person, None)
            raise Unreachable(f"can't be reached on Slack ({code})") from exc
        if code in CHANNEL_GONE:
            raise Unreachable(f"the Slack channel can't be posted to ({code})") from exc
        if code in APP_REFUSED:
            return
        if code or 400 <= status < 500:
            raise PermanentDeliveryError(
                f"Slack refused the message ({code or f'HTTP {status}'})"
            ) from exc

    async def _record(
        self, message: OutboxMessage, channel: str, sent: list[str], kind: str
    ) -> None:
        async with self.svc.db.write() as tx:
            for ts in sent:
                await chat_store.record_sent(
                    tx,
                    outbox_id=message.id,
                    episode_id=message.episode_id,
                    transport=NAME,
                    chat_id=channel,
                    message_id=ts,
                    kind=kind,
                    now=self.svc.clock.now(),
                )

    async def record_reply(self, episode_id: int, channel: str, sent: list[str]) -> None:
        """A reply posted into a team channel belongs to the episode's thread and is redacted."""
        async with self.svc.db.write() as tx:
            for ts in sent:
                await chat_store.record_sent(
                    tx,
                    outbox_id=None,
                    episode_id=episode_id,
                    transport=NAME,
                    chat_id=channel,
                    message_id=ts,
                    kind="group",
                    now=self.svc.clock.now(),
                )

    async def redact(self, message: OutboxMessage) -> None:
        """Finalised: delete profile messages, replace channel messages with one closing line."""
        if message.episode_id is None:
            return
        closing = message.text
        refused: list[str] = []  # copies Slack will not clear: the others are still cleared
        for copy in await chat_store.unredacted(self.svc.db, message.episode_id, NAME):
            try:
                if copy.kind == "profile":
                    await self.pacer.wait(copy.chat_id)
                    await self.client.chat_delete(channel=copy.chat_id, ts=copy.message_id)
                elif copy.kind == "group":
                    await self.pacer.wait(copy.chat_id)
                    await self.client.chat_update(
                        channel=copy.chat_id,
                        ts=copy.message_id,
                        text=escape(closing),
                        blocks=[section(closing)],
                    )
                else:
                    continue  # direct alerts name the child by reference only: they stay
            except SlackApiError as exc:
                if error_code(exc) not in ALREADY_GONE:
                    try:
                        await self._fail(exc, message)
                    except PermanentDeliveryError as refusal:
                        refused.append(str(refusal))
                        continue
                    raise
            async with self.svc.db.write() as tx:
                await chat_store.mark_redacted(tx, copy.id, self.svc.clock.now())
        if refused:
            raise PermanentDeliveryError(f"{len(refused)} copies not cleared: {refused[0]}")
