"""Slack: the same conversation logic, through slack-bolt's AsyncApp.

This module builds the app and starts and stops it (Socket Mode or HTTP); listeners.py
handles what comes in (slash commands: each word of the vocabulary, and one
`/missing <sub-command>`; the report form; alert buttons; the App Home tab; enrolment by
direct message), form.py the report form, sender.py what goes out, inbox.py keeps requests across a crash. Every rule
stays in handlers/ and reminders/; every button and the form become typed commands.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import ACTION_PREFIX, OPEN_REPORT, REPORT_CALLBACK
from bot.slack.form import SUBMIT_WAIT
from bot.slack.listeners import Listeners
from bot.slack.sender import (
    NAME,
    ChannelPacer,
    SlackSender,
    error_code,
    no_debug_bodies,
    quiet_logger,
    status_code,
)
from handlers.context import Services
from storage import inbox_store
from storage.models import OutboxMessage

CONNECT_TIMEOUT = 30.0
STOP_WAIT = 5.0


class SlackStartupError(RuntimeError):
    """Slack refused to start; the message says what to fix."""


@dataclass(frozen=True)
class HttpListen:
    """HTTP mode: where Bolt's aiohttp app listens (behind an HTTPS proxy Slack can reach)."""

    host: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"


class SlackPlatform:
    name = NAME

    def __init__(
        self,
        svc: Services,
        token: str,
        *,
        signing_secret: str = "",
        base_url: str | None = None,
        channel_period: float = 1.0,
        submit_wait: float = SUBMIT_WAIT,
        holder: str | None = None,
    ) -> None:
        self.svc = svc
        self.after_command: Callable[[], Awaitable[object]] | None = None
        no_debug_bodies()
        self._bolt_log = quiet_logger("bot.slack.bolt", logging.WARNING)
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url or AsyncWebClient.BASE_URL,
            logger=quiet_logger("bot.slack.sdk", logging.INFO),
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            logger=self._bolt_log,
            name="whereabouts",
        )
        self.sender = SlackSender(svc, self.client, ChannelPacer(channel_period))
        self.listeners = Listeners(svc, self.client, self.sender, self._after, submit_wait)
        self.dispatcher = self.listeners.dispatcher
        if holder is not None:  # this instance, by its id: no other live one replays its requests
            self.listeners.requests.holder = holder
        self.signing_secret = signing_secret
        self.http_port: int | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        # More routes for the HTTP mode's server (/healthz, /readyz, /metrics: bot/ops_http.py)
        self.http_routes: Callable[[web.Application], None] | None = None
        self._listen()

    def _listen(self) -> None:
        app, on = self.app, self.listeners
        app.command(re.compile(r"^/[\w-]+$"))(on.on_command)
        app.action(re.compile(f"^{ACTION_PREFIX}"))(on.on_button)
        app.action(OPEN_REPORT)(on.form.on_open_report)
        app.view(REPORT_CALLBACK)(on.form.on_report_submitted)
        app.event("app_home_opened")(on.on_home_opened)
        app.event("message", middleware=[on.keep_message])(on.on_message)

    async def _after(self) -> None:
        if self.after_command is not None:
            await self.after_command()

    async def publish_home(self, user_id: str) -> None:
        await self.listeners.publish_home(user_id)

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, app_token: str | None = None, http: HttpListen | None = None) -> None:
        """auth.test (a rejected token is a SlackStartupError), then Socket Mode or HTTP."""
        try:
            await self.client.auth_test()
            await inbox_store.prune(self.svc.db, self.svc.clock.now())  # ids kept a day
            # left unhandled by a crash: before anything new
            await self.listeners.requests.replay(self.sender.dm)
            if app_token:
                await self._start_socket(app_token)
            elif http is not None:
                await self._start_http(http)
            else:
                raise SlackStartupError(
                    "Slack needs an app-level token for Socket Mode or HTTP settings."
                )
        except SlackApiError as exc:
            which = (
                "app-level token. Check SLACK_APP_TOKEN (xapp-…, with the connections:write scope)"
                if self._socket
                else "bot token. Check SLACK_BOT_TOKEN (xoxb-…, on the app's OAuth & Permissions page)"
            )
            await self.stop()
            raise SlackStartupError(
                f"Slack rejected the {which} [{error_code(exc) or status_code(exc)}]."
            ) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self.stop()
            raise SlackStartupError(f"Can't reach Slack ({type(exc).__name__}).") from exc

    async def _start_socket(self, app_token: str) -> None:
        self._socket = AsyncSocketModeHandler(self.app, app_token, logger=self._bolt_log)
        # A wrong app token is refused here, not retried forever by the socket client.
        await self.client.apps_connections_open(app_token=app_token)
        await asyncio.wait_for(self._socket.connect_async(), CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]

    async def _start_http(self, http: HttpListen) -> None:
        if not self.signing_secret:
            raise SlackStartupError(
                "Slack's HTTP mode needs the signing secret: set SLACK_SIGNING_SECRET."
            )
        web_app = self.app.web_app(path=http.path, port=http.port)
        if self.http_routes is not None:
            self.http_routes(web_app)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, http.host, http.port)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else http.port

    async def adopt(self) -> int:
        """On the instance's beat: requests a dead instance stored and never handled are
        carried out here. Returns how many were taken over."""
        return await self.listeners.requests.adopt(self.sender.dm)

    async def connected(self) -> bool:
        """Socket Mode: its connection is up; HTTP mode: its server is listening."""
        if self._socket is not None:
            return bool(await self._socket.client.is_connected())
        return self._runner is not None

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.settle(STOP_WAIT)

    async def settle(self, timeout: float = STOP_WAIT) -> None:
        """Wait for work that listeners do after acknowledging (answers, deliveries) to end,
        and for what was taken over from a dead instance."""
        await self.listeners.requests.settle(timeout)
        await self.listeners.jobs.settle(timeout)

    # ---- outgoing (the outbox calls these) ---------------------------------------------

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        await self.sender.send_direct(external_id, message)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self.sender.send_team(chat_id, message)

    async def redact(self, message: OutboxMessage) -> None:
        await self.sender.redact(message)
