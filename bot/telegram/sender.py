"""Telegram, outgoing: the outbox's messages and files, replies to commands, redaction, and
the limits Telegram sets on sending.

The outbox calls `send_direct`, `send_team` and `redact` (through the Telegram platform).
Telegram's answers map onto the outbox's: 429 → RetryLater(retry_after), a person who
blocked the bot or a chat that is gone → Unreachable, so the alert moves on; any other 4xx
→ PermanentDeliveryError (given up at once, the alert moves on too); 5xx and timeouts are
retried. 401/404 (the bot's own token refused) are retried: no message could be sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot, InputFile, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import AIORateLimiter

from bot.delivery import PermanentDeliveryError, RetryLater
from bot.router import Unreachable
from bot.telegram.http import Refused
from bot.telegram.keyboards import keyboard
from handlers.context import Services
from handlers.messages import Chat, Outcome, split_text
from reminders.formatting import PROFILE_HEADING
from storage import chat_store, report_store, staff_store
from storage.models import OutboxMessage

NAME = "telegram"
TEXT_LIMIT = 4096  # Bot API: characters in one message
CAPTION_LIMIT = 1024  # and in a photo or document caption
DELETE_WINDOW = timedelta(hours=48)  # bots may delete their messages for this long


class PerChatRateLimiter(AIORateLimiter):
    """PTB's limiter (overall and per group) plus one message a second per chat."""

    def __init__(self, chat_rate: float = 1.0, chat_period: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chat_rate = chat_rate
        self._chat_period = chat_period
        self._chat_limiters: dict[str | int, AsyncLimiter] = {}

    async def process_request(
        self,
        callback: Callable[..., Awaitable[Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any,
    ) -> Any:
        chat_id = data.get("chat_id")
        if chat_id is None or not endpoint.startswith("send"):
            return await super().process_request(
                callback,  # type: ignore[arg-type]
                args, kwargs, endpoint, data, rate_limit_args,
            )  # fmt: skip
        limiter = self._chat_limiters.setdefault(
            chat_id, AsyncLimiter(self._chat_rate, self._chat_period)
        )
        async with limiter:
            return await super().process_request(
                callback,  # type: ignore[arg-type]
                args, kwargs, endpoint, data, rate_limit_args,
            )  # fmt: skip


class TelegramSender:
    def __init__(self, svc: Services, bot: Bot) -> None:
        self.svc = svc
        self.bot = bot

    # ---- the outbox -------------------------------------------------------------------

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        kind = "profile" if PROFILE_HEADING in message.text else "direct"
        sent = await self._send(int(external_id), message, None)
        await self._record(message, external_id, sent, kind)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        root = None
        if message.episode_id is not None:
            root = await chat_store.thread_root(self.svc.db, message.episode_id, NAME, chat_id)
        sent = await self._send(int(chat_id), message, root)
        await self._record(message, chat_id, sent, "group")

    async def _send(self, chat_id: int, message: OutboxMessage, reply_to: str | None) -> Message:
        reply = (
            ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to else None
        )
        try:
            if message.attachment_id is not None:
                return await self._send_file(chat_id, message, reply)
            *head, last = split_text(message.text, TEXT_LIMIT)
            for part in head:  # a long summary goes as several messages; buttons on the last
                await self.bot.send_message(chat_id, part, reply_parameters=reply)
            return await self.bot.send_message(
                chat_id,
                last,
                reply_markup=keyboard(message.buttons),
                reply_parameters=reply,
            )
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc.retry_after)) from exc
        except Forbidden as exc:
            async with self.svc.db.write() as tx:
                await staff_store.mark_blocked(tx, NAME, str(chat_id), self.svc.clock.now())
            raise Unreachable("blocked the bot on Telegram") from exc
        except BadRequest as exc:  # 400: this message will never be accepted as it is
            if "chat not found" in str(exc).lower():
                raise Unreachable("Telegram chat not found") from exc
            raise PermanentDeliveryError(f"Telegram refused the message: {exc.message}") from exc
        except Refused as exc:  # another 4xx (not 429): permanent too
            raise PermanentDeliveryError(str(exc)) from exc

    async def _send_file(
        self, chat_id: int, message: OutboxMessage, reply: ReplyParameters | None
    ) -> Message:
        assert message.attachment_id is not None
        attachment = await report_store.get_attachment(self.svc.db, message.attachment_id)
        if attachment is None:
            raise PermanentDeliveryError("the attached file is no longer stored")
        upload = InputFile(attachment.data, filename=attachment.filename)
        caption = message.text[:CAPTION_LIMIT]
        if attachment.mime.startswith("image/"):
            return await self.bot.send_photo(
                chat_id, upload, caption=caption, reply_parameters=reply
            )
        return await self.bot.send_document(
            chat_id, upload, caption=caption, reply_parameters=reply
        )

    async def _record(self, message: OutboxMessage, chat_id: str, sent: Message, kind: str) -> None:
        await chat_store.record_sent(
            self.svc.db,
            outbox_id=message.id,
            episode_id=message.episode_id,
            transport=NAME,
            chat_id=chat_id,
            message_id=str(sent.message_id),
            kind=kind,
            now=self.svc.clock.now(),
        )

    async def redact(self, message: OutboxMessage) -> None:
        """Finalised: delete profile messages while Telegram allows, and close group messages."""
        if message.episode_id is None:
            return
        now = self.svc.clock.now()
        closing = message.text
        for copy in await chat_store.unredacted(self.svc.db, message.episode_id, NAME):
            try:
                if copy.kind == "profile" and now - copy.sent_at < DELETE_WINDOW:
                    await self.bot.delete_message(int(copy.chat_id), int(copy.message_id))
                elif copy.kind in ("profile", "group"):
                    await self.bot.edit_message_text(
                        closing, chat_id=int(copy.chat_id), message_id=int(copy.message_id)
                    )
                else:
                    continue  # direct alerts name the child by reference only: they stay
            except RetryAfter as exc:
                raise RetryLater(_seconds(exc.retry_after)) from exc
            except (BadRequest, Refused):
                pass  # already gone, too old to touch, or refused: nothing more the bot can do
            async with self.svc.db.write() as tx:
                await chat_store.mark_redacted(tx, copy.id, now)

    # ---- replies to a command -----------------------------------------------------------

    async def reply(self, message: Message, outcome: Outcome, chat: Chat) -> None:
        for reply in outcome.replies:
            # Over Telegram's limit: several messages, cut at line ends; buttons on the last.
            *head, last = split_text(reply.text, TEXT_LIMIT)
            if reply.private and chat.is_group and message.from_user is not None:
                for part in head:
                    await self.bot.send_message(message.from_user.id, part)
                await self.bot.send_message(
                    message.from_user.id, last, reply_markup=keyboard(reply.buttons)
                )
                continue
            for part in head:
                await message.reply_text(part, do_quote=chat.is_group)
            sent = await message.reply_text(
                last, reply_markup=keyboard(reply.buttons), do_quote=chat.is_group
            )
            if chat.is_group:
                # group copies are threaded per episode and closed when it is finalised
                for episode_id in outcome.episode_ids[:1]:
                    await chat_store.record_sent(
                        self.svc.db,
                        outbox_id=None,
                        episode_id=episode_id,
                        transport=NAME,
                        chat_id=chat.chat_id,
                        message_id=str(sent.message_id),
                        kind="group",
                        now=self.svc.clock.now(),
                    )


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
