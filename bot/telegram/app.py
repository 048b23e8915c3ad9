"""Telegram: the same conversation logic, through python-telegram-bot's real Application.

This module builds the Application (networking, rate limits, the durable update queue) and
starts and stops it; listeners.py and guided.py handle what comes in, sender.py what goes
out, inbox.py keeps updates across a crash. Every rule stays in handlers/ and reminders/;
every button is a typed command.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

# Opt in to PTB's future behaviour: RetryAfter.retry_after as a timedelta (no deprecation noise).
os.environ.setdefault("PTB_TIMEDELTA", "1")
from aiohttp import web
from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import logs
from bot.telegram.guided import GUIDED_TIMEOUT, GuidedReport
from bot.telegram.http import AiohttpRequest
from bot.telegram.inbox import DurableUpdateQueue, HandledMarks, PerPersonProcessor
from bot.telegram.listeners import Listeners
from bot.telegram.sender import NAME, PerChatRateLimiter, TelegramSender
from bot.telegram.webhook import WebhookServer
from handlers.context import Services
from storage import inbox_store
from storage.models import OutboxMessage

# PTB logs whole updates and request parameters at DEBUG (what carers typed about children);
# httpx logs every request URL at INFO, and a Bot API URL holds the bot's token.
logs.keep_quiet()


class TelegramPlatform:
    name = NAME

    def __init__(
        self,
        svc: Services,
        token: str,
        *,
        base_url: str | None = None,
        rate_limiter: AIORateLimiter | None = None,
        guided_timeout: float = GUIDED_TIMEOUT,
        read_timeout: float = 5.0,
        holder: str | None = None,
    ) -> None:
        self.svc = svc
        self.after_command: Callable[[], Awaitable[object]] | None = None
        # Updates are stored before Telegram is told we have them and replayed after a crash;
        # people's updates run concurrently, each person's in order (see bot/telegram/inbox.py).
        # Each is held by this instance (`holder`, its id), so no other live one replays it.
        self.queue = DurableUpdateQueue(svc.db, svc.clock, NAME, holder)
        self._replayed = False  # the first replay also takes this instance's previous life's
        self.marks = HandledMarks(svc.db, svc.clock, NAME)
        self._applied_before: dict[int, datetime] = {}
        # getUpdates confirms what it fetched before: only once that is on disk
        self._requests = (
            AiohttpRequest(read_timeout=read_timeout),
            AiohttpRequest(connection_pool_size=1, before_each=self.queue.on_disk),
        )
        builder = (
            ApplicationBuilder()
            .token(token)
            .rate_limiter(rate_limiter or PerChatRateLimiter(max_retries=3))
            .update_queue(self.queue)
            .concurrent_updates(PerPersonProcessor(self._handled))
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
        )
        if base_url:
            builder = builder.base_url(base_url).base_file_url(
                base_url.replace("/bot", "/file/bot")
            )
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.sender = TelegramSender(svc, self.app.bot)
        self.listeners = Listeners(
            svc, self.app.bot, self.sender, self._applied_before, self._after
        )
        self.dispatcher = self.listeners.dispatcher
        self._add_handlers(guided_timeout)
        self.webhook: WebhookServer | None = None
        # More routes for the webhook's server (/healthz, /readyz, /metrics: bot/ops_http.py)
        self.http_routes: Callable[[web.Application], None] | None = None

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, webhook: dict[str, Any] | None = None, poll: bool = True) -> None:
        """Initialise (getMe: a rejected token raises InvalidToken here), then poll or listen.
        `poll=False`: long polling is a singleton among instances (bot/instances.py) and
        starts when this one holds it (`start_polling`); it can send meanwhile."""
        try:
            await self.app.initialize()
        except BaseException:
            # Telegram refused or could not be reached: PTB leaves the sessions it opened
            # (asyncio would complain "Unclosed client session" at exit).
            for request in self._requests:
                await request.shutdown()
            raise
        await inbox_store.prune(self.svc.db, self.svc.clock.now())
        await self.app.start()
        # A webhook's 200 goes back when `put` returns, so `put` waits for the disk; when
        # polling, the next getUpdates waits instead (bot/telegram/inbox.py).
        self.queue.wait_for_disk = bool(webhook)
        if webhook:
            # Left unhandled by a crash: handled first, before anything new is fetched.
            await self._replay()
            await self._start_webhook(**webhook)
        elif poll:
            await self.start_polling()

    async def start_polling(self) -> None:
        """Replay what the last poller left unhandled (this process's previous life, or an
        instance that died holding the polling), then poll. Updates this process holds
        itself (it polled before) are in hand, not queued again."""
        updater = self.app.updater
        if updater is None or updater.running:
            return
        await self._replay()
        await updater.start_polling(poll_interval=0, timeout=10)

    async def _replay(self) -> int:
        own, self._replayed = not self._replayed, True
        return await self.queue.replay(self.app.bot, self._applied_before, own=own)

    async def adopt(self) -> int:
        """On the instance's beat: what a dead instance stored and never handled is handled
        here (the queue takes any update, polling or not). Returns how many."""
        if not self.app.running:
            return 0
        return await self.queue.replay(self.app.bot, self._applied_before, own=False)

    async def connected(self) -> bool:
        """Running: sending, and receiving by its webhook or (where it holds it) by polling."""
        return bool(self.app.running)

    @property
    def polling(self) -> bool:
        return bool(self.app.updater is not None and self.app.updater.running)

    async def stop_polling(self) -> None:
        """Another instance polls now: stop fetching (what was fetched is still handled)."""
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()

    async def _start_webhook(
        self, listen: str, port: int, url_path: str, webhook_url: str, secret_token: str
    ) -> None:
        """Our own server (bot/telegram/webhook.py): the secret before the body, the body
        capped; then Telegram is told where to send updates."""
        server = WebhookServer(self.app.bot, self.queue, secret_token, url_path, self.http_routes)
        await server.start(listen, port)
        self.webhook = server
        await self.app.bot.set_webhook(url=webhook_url, secret_token=secret_token)

    async def stop(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()
            self.webhook = None
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        try:
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        finally:
            await self.marks.flush()  # before the database closes

    def _add_handlers(self, guided_timeout: float) -> None:
        fresh = filters.UpdateType.MESSAGE  # edits never rewrite the timeline
        on = self.listeners
        # Handlers block: an update counts as handled only when they have finished. The
        # processor runs different people at once, so one slow chat holds up nobody else.
        self.app.add_handler(TypeHandler(Update, on.only_issued_buttons), group=-2)
        self.app.add_handler(TypeHandler(Update, on.replayed_after_crash), group=-1)
        self.app.add_handler(GuidedReport(on).handler(guided_timeout))
        self.app.add_handler(MessageHandler(filters.COMMAND & fresh, on.on_command))
        self.app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on.on_edited))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & fresh, on.on_plain))
        self.app.add_handler(CallbackQueryHandler(on.on_button, pattern=r"^/"))
        self.app.add_error_handler(on.on_error)

    async def _handled(self, update: Update) -> None:
        self._applied_before.pop(update.update_id, None)
        self.queue.queued.discard(update.update_id)
        self.marks.add(update.update_id)

    async def _after(self) -> None:
        if self.after_command is not None:
            await self.after_command()

    # ---- outgoing (the outbox calls these) ------------------------------------------

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        await self.sender.send_direct(external_id, message)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self.sender.send_team(chat_id, message)

    async def redact(self, message: OutboxMessage) -> None:
        await self.sender.redact(message)
