"""Microsoft Teams: the same conversation logic, through the Bot Connector.

This module serves the messaging endpoint on our own aiohttp server (listening where the
settings say, 127.0.0.1 by default, behind the HTTPS proxy Azure Bot posts to) and starts and
stops the platform; auth.py checks every request's token before anything else of it is read,
listeners.py handles what comes in, sender.py what goes out (through the Teams SDK's
ApiClient), inbox.py keeps commands across a crash. Every rule stays in handlers/ and
reminders/; every card button and the report form become typed commands.

The Teams SDK's own App is not used for the inbound side: it serves FastAPI on 0.0.0.0, and
its pipeline has no place to store an activity before the 200 or to refuse other tenants.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.button_seal import Seal
from bot.teams.auth import BOT_FRAMEWORK_METADATA, BotFrameworkAuth, Refused
from bot.teams.listeners import Listeners
from bot.teams.sender import NAME, Pacer, TeamsSender, TokenSource
from handlers.context import Services
from storage import inbox_store
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

STOP_WAIT = 5.0
BODY_LIMIT = 256 * 1024  # an activity is a few KB; Teams caps messages at about 28 KB


# Libraries that log requests (MSAL: token requests; the SDK: activities) at DEBUG: never below.
QUIET = ("msal", "microsoft_teams")


def no_debug_bodies() -> None:
    for name in QUIET:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


class TeamsStartupError(RuntimeError):
    """Teams can't start; the message says what to fix."""


@dataclass(frozen=True)
class HttpListen:
    host: str = "127.0.0.1"
    port: int = 3978
    path: str = "/api/messages"


class TeamsPlatform:
    name = NAME

    def __init__(
        self,
        svc: Services,
        app_id: str,
        token: TokenSource,
        *,
        tenants: frozenset[str],
        seal_key: str,
        metadata_url: str = BOT_FRAMEWORK_METADATA,
        pacer: Pacer | None = None,
        holder: str | None = None,
    ) -> None:
        no_debug_bodies()
        self.svc = svc
        self.app_id = app_id
        self.after_command: Callable[[], Awaitable[object]] | None = None
        self.auth = BotFrameworkAuth(app_id, tenants, metadata_url)
        self.sender = TeamsSender(
            svc, token, Seal(f"teams\0{app_id}\0{seal_key}"), pacer or Pacer()
        )
        self.listeners = Listeners(svc, self.sender, self._after)
        self.dispatcher = self.listeners.dispatcher
        if holder is not None:  # this instance, by its id: no other live one replays its activities
            self.listeners.activities.holder = holder
        self.http_port: int | None = None
        self._runner: web.AppRunner | None = None
        # More routes for the endpoint's server (/healthz, /readyz, /metrics: bot/ops_http.py)
        self.http_routes: Callable[[web.Application], None] | None = None

    async def _after(self) -> None:
        if self.after_command is not None:
            await self.after_command()

    # ---- the messaging endpoint ------------------------------------------------------------

    async def on_request(self, request: web.Request) -> web.StreamResponse:
        """Token first: a request that fails is refused (401) before its body is read."""
        try:
            caller = await self.auth.check_token(request.headers.get("Authorization"))
        except Refused as exc:
            log.warning("teams: request refused (%s)", exc)
            return web.Response(status=401)
        if (request.content_length or 0) > BODY_LIMIT:
            return web.Response(status=413)
        try:
            activity = json.loads(await request.read())
            if not isinstance(activity, dict):
                raise ValueError("not an activity")
            self.auth.check_activity(caller, activity)
        except Refused as exc:
            log.warning("teams: request refused (%s)", exc)
            return web.Response(status=401)
        except ValueError:
            return web.Response(status=400)
        status, body = await self.listeners.receive(activity)
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    def routes(self, app: web.Application, path: str) -> None:
        """The messaging endpoint on an aiohttp application (ours, or one shared)."""
        app.router.add_post(path, self.on_request)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self, http: HttpListen | None = None) -> None:
        """Carry out what a crash left in the inbox, then listen."""
        await self.auth.warm()
        await inbox_store.prune(self.svc.db, self.svc.clock.now())
        await self.listeners.activities.replay(self.sender.dm)
        listen = http or HttpListen()
        app = web.Application(client_max_size=BODY_LIMIT)
        self.routes(app, listen.path)
        if self.http_routes is not None:
            self.http_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, listen.host, listen.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise TeamsStartupError(
                f"Can't listen for Teams on {listen.host}:{listen.port} ({exc.strerror})."
            ) from exc
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else listen.port

    async def adopt(self) -> int:
        """On the instance's beat: activities a dead instance stored and never handled are
        carried out here. Returns how many were taken over."""
        return await self.listeners.activities.adopt(self.sender.dm)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.settle(STOP_WAIT)
        await self.auth.close()
        await self.sender.close()

    async def settle(self, timeout: float = STOP_WAIT) -> None:
        """Wait for work done after the 200 (answers, deliveries) to end, and for what was
        taken over from a dead instance."""
        await self.listeners.activities.settle(timeout)
        await self.listeners.jobs.settle(timeout)
        await asyncio.sleep(0)

    # ---- outgoing (the outbox calls these) -------------------------------------------------

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        await self.sender.send_direct(external_id, message)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self.sender.send_team(chat_id, message)

    async def redact(self, message: OutboxMessage) -> None:
        await self.sender.redact(message)
