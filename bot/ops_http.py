"""`/healthz`, `/readyz` (and `/metrics`, bot/metrics.py) on the bot's HTTP server.

They go on every server that already runs (the Telegram webhook's, Slack HTTP mode's, Teams'
endpoint's: each platform's `http_routes` hook) or, when none does (long polling, Socket
Mode), on one of their own at `WHEREABOUTS_HTTP_LISTEN`:`WHEREABOUTS_HTTP_PORT` (127.0.0.1:8080). `/healthz` says the process answers (200 `ok`);
`/readyz` that it can do its work: the database answers, every chat platform is connected,
the sweeper ran recently and the instance's heartbeat is being written. Not ready: 503 with
the reasons, one short line each. Nothing personal is ever in a body: no names, no
children, no tokens; only the kind of thing that is wrong.

Nothing inside a dead process can raise an alarm about it: pair `/healthz` (or `/readyz`)
with a monitor outside it (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.heartbeat import Heartbeat
from bot.instances import TELEGRAM_POLLING, Instance
from reminders.clock import Clock
from reminders.formatting import duration
from storage.db import Database

log = logging.getLogger(__name__)

DB_TIMEOUT = 2.0  # seconds for `SELECT 1` before the database counts as unreachable
TEXT = "text/plain"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Probe:
    """What `/readyz` checks; filled in as the bot starts (until then: "starting")."""

    db: Database
    clock: Clock
    platforms: Sequence[Any] = ()
    heartbeat: Heartbeat | None = None
    instance: Instance | None = None
    sweep_stale: timedelta = timedelta(seconds=90)
    beat_stale: timedelta = timedelta(seconds=10)
    started: bool = False

    async def problems(self) -> list[str]:
        if not self.started:
            return ["starting"]
        found: list[str] = []
        try:
            await asyncio.wait_for(self.db.fetchone("SELECT 1"), DB_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure: not reachable
            found.append(f"database unreachable ({type(exc).__name__})")
        for platform in self.platforms:
            connected = getattr(platform, "connected", None)
            if connected is not None and not await connected():
                found.append(f"{platform.name} not connected")
        if (
            self.instance is not None
            and self.instance.holds(TELEGRAM_POLLING)
            and not all(getattr(p, "polling", True) for p in self.platforms)
        ):
            found.append("telegram polling is this instance's but is not running")
        now = self.clock.now()
        if self.heartbeat is not None:
            last = self.heartbeat.last_sweep_at
            if last is None:
                found.append("the sweeper has not run yet")
            elif now - last > self.sweep_stale:
                found.append(f"the sweeper last ran {duration(now - last)} ago")
        if self.instance is not None:
            beat = self.instance.last_beat
            if beat is None or now - beat > self.beat_stale:
                found.append("this instance's heartbeat is not being written")
        return found


class OpsRoutes:
    """The handlers, to add to whichever aiohttp application serves."""

    def __init__(self, probe: Probe, metrics: Handler | None = None) -> None:
        self.probe = probe
        self.metrics = metrics
        self.mounted = 0  # servers they were added to (none: they need one of their own)

    def add_to(self, app: web.Application) -> None:
        """On a platform's server (its `http_routes` hook, called as it builds its app)."""
        self.mounted += 1
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        if self.metrics is not None:
            app.router.add_get("/metrics", self.metrics)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n", content_type=TEXT)

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            problems = await self.probe.problems()
        except Exception as exc:  # noqa: BLE001 - a check that fails is a reason in itself
            problems = [f"the readiness check failed ({type(exc).__name__})"]
        if problems:
            return web.Response(
                status=503, text="not ready: " + "; ".join(problems) + "\n", content_type=TEXT
            )
        return web.Response(text="ready\n", content_type=TEXT)


class OpsServer:
    """A server of its own for the routes, when no other HTTP server runs."""

    def __init__(self, routes: OpsRoutes) -> None:
        self.routes = routes
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        self.routes.add_to(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
