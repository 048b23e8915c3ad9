"""Telegram's webhook, served by aiohttp (PTB's own server reads a whole body first).

The secret header is checked before a byte of the body is read, and the body is capped:
a Telegram update is a few kilobytes, so 1 MiB is generous (the reverse proxy in front
should refuse more, see README "Telegram"). An update that cannot be read is refused with
400 and logged by its kind of error only, never its text. The 200 goes back once the update
is stored (the durable queue's `put` waits for the disk), so Telegram may then forget it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from telegram import Bot, Update

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(
        self,
        bot: Bot,
        queue: asyncio.Queue[Any],
        secret: str,
        path: str,
        more_routes: Callable[[web.Application], None] | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a Telegram webhook needs a secret token")
        self.bot = bot
        self.queue = queue
        self.secret = secret.encode()
        self.path = "/" + path.strip("/")
        self.port: int | None = None
        self.more_routes = more_routes  # the health and metrics routes (bot/ops_http.py)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self.handle)
        app.router.add_post(self.path + "/", self.handle)
        if self.more_routes is not None:
            self.more_routes(app)
        return app

    async def start(self, listen: str, port: int) -> None:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, listen, port)
        await site.start()
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def handle(self, request: web.Request) -> web.Response:
        # Headers only, so far: a wrong secret costs nothing however large the body.
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            return web.Response(status=403)
        if request.content_type != "application/json":
            return web.Response(status=415)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            body = await request.read()  # aiohttp refuses past client_max_size (413)
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, self.bot) if isinstance(data, dict) else None
            if update is None:
                raise ValueError("not an update")
        except Exception as exc:  # noqa: BLE001 - what it said stays out of the logs
            log.warning("telegram webhook: an update could not be read (%s)", type(exc).__name__)
            return web.Response(status=400)
        await self.queue.put(update)  # raises if it cannot be stored: 500, Telegram resends
        return web.Response(status=200)
