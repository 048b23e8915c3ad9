"""Slack: the same conversation logic, through slack-bolt's AsyncApp.

Only the platform lives here: slash commands (each word of the vocabulary, and one
`/missing <sub-command>`), the report form, alert buttons, the App Home tab, enrolment by
direct message, Socket Mode or HTTP. Every rule stays in handlers/ and reminders/; every
button and the form become typed commands. Outgoing messages are in bot/slack_sender.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_blocks import (
    ACTION_PREFIX,
    OPEN_REPORT,
    REPORT_CALLBACK,
    escape,
    home_view,
    message_parts,
    report_modal,
)
from bot.slack_interactions import Presses, Remembered, check_report, command_words, unescape
from bot.slack_sender import (
    NAME,
    ChannelPacer,
    SlackSender,
    error_code,
    no_debug_bodies,
    quiet_logger,
    status_code,
)
from handlers import duty_commands, enrolment, views
from handlers.access import ACTIONS, may
from handlers.context import Services
from handlers.dispatch import HELP, NOT_ENROLLED, Dispatcher
from handlers.episodes import Step
from handlers.messages import Chat, Outcome, Reply, recorded_before_restart
from reminders.formatting import short_time
from storage import chats, child_store, inbox, staff_store
from storage.models import Button, OutboxMessage, Staff

log = logging.getLogger(__name__)

NOT_SET_UP = (
    "Whereabouts isn't set up in this channel. An admin or manager can register it with "
    "/register <team> (or /missing register <team>)."
)
DM_HINT = "Use the slash commands: /help lists them (or /missing help)."
SLACK_HELP = (
    "\nOn Slack: /absent on its own opens a form. Every command also works as "
    "/missing <command> …, e.g. /missing status. Slack keeps /status and /away for itself: "
    "here they are /wb-status and /wb-away."
)
CANT_POST = "(I can't post in this channel yet: invite me with /invite @Whereabouts.)"
SUBMIT_WAIT = 2.0  # seconds a submitted form may take before it closes anyway (Slack allows 3)
CONNECT_TIMEOUT = 30.0
STOP_WAIT = 5.0


NOT_STORED = "I couldn't save that just now, so nothing was done. Please send it again."


def event_key(body: dict[str, Any]) -> int:
    """The inbox id of a slash command or button press: from its trigger_id, unique to it."""
    unique = str(body.get("trigger_id") or json.dumps(body, sort_keys=True))
    return int.from_bytes(hashlib.blake2b(unique.encode(), digest_size=7).digest(), "big")


def _stored(payload: str | None) -> dict[str, Any] | None:
    """{"command": body} or {"press": body, "action": action}, as `_durably` stored it."""
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


def _what(stored: dict[str, Any]) -> str:
    if "command" in stored:
        body = stored["command"]
        return f"{body.get('command', '')} {body.get('text', '')}".strip()[:60]
    action = stored["action"]
    return f"press of {(action.get('text') or {}).get('text') or 'a button'}"


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
    ) -> None:
        self.svc = svc
        self.dispatcher = Dispatcher(svc)
        self.after_command: Callable[[], Awaitable[object]] | None = None
        self.submit_wait = submit_wait
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
        self.signing_secret = signing_secret
        self.http_port: int | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self.presses = Presses(svc)
        self._events: Remembered[str, bool] = Remembered()
        self._listen()

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, app_token: str | None = None, http: HttpListen | None = None) -> None:
        """auth.test (a rejected token is a SlackStartupError), then Socket Mode or HTTP."""
        try:
            await self.client.auth_test()
            await self._replay()  # left unhandled by a crash: before anything new
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
        await asyncio.wait_for(self._socket.connect_async(), CONNECT_TIMEOUT)

    async def _start_http(self, http: HttpListen) -> None:
        if not self.signing_secret:
            raise SlackStartupError(
                "Slack's HTTP mode needs the signing secret: set SLACK_SIGNING_SECRET."
            )
        runner = web.AppRunner(self.app.web_app(path=http.path, port=http.port), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, http.host, http.port)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else http.port

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.settle(STOP_WAIT)

    async def settle(self, timeout: float = STOP_WAIT) -> None:
        """Wait for work that listeners do after acknowledging (answers, deliveries) to end."""
        current = asyncio.current_task()
        pending = {t for t in self._inflight if not t.done() and t is not current}
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # ---- outgoing (the outbox calls these) ---------------------------------------------

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        await self.sender.send_direct(external_id, message)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self.sender.send_team(chat_id, message)

    async def redact(self, message: OutboxMessage) -> None:
        await self.sender.redact(message)

    # ---- incoming ----------------------------------------------------------------------

    def _listen(self) -> None:
        app = self.app
        app.command(re.compile(r"^/[\w-]+$"))(self._on_command)
        app.action(re.compile(f"^{ACTION_PREFIX}"))(self._on_button)
        app.action(OPEN_REPORT)(self._on_open_report)
        app.view(REPORT_CALLBACK)(self._on_report_submitted)
        app.event("app_home_opened")(self._on_home_opened)
        app.event("message")(self._on_message)

    @contextlib.asynccontextmanager
    async def _job(self, what: str) -> AsyncIterator[None]:
        """A listener's work after ack(): tracked for a clean stop; failures logged, no text."""
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

    async def _who(self, user_id: str) -> Staff | None:
        if not user_id:
            return None
        return await staff_store.staff_by_identity(self.svc.db, NAME, user_id)

    async def _chat(self, channel_id: str, channel_name: str | None, user_id: str) -> Chat:
        """A team channel (registered or not), else the person's direct chat with the bot."""
        if not channel_id or channel_id.startswith("D") or channel_name == "directmessage":
            return Chat(NAME, user_id)
        team = await chats.team_of_chat(self.svc.db, NAME, channel_id)
        return Chat(NAME, channel_id, True, team)

    async def _after(self) -> None:
        if self.after_command is not None:
            await self.after_command()

    # ---- slash commands ----------------------------------------------------------------

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await self._durably(ack, {"command": body}, body, respond)

    async def _durably(
        self, ack: Any, stored: dict[str, Any], body: dict[str, Any], respond: Any
    ) -> None:
        """Store a slash command or button press before Slack hears we have it (the ack),
        so a crash before it is handled replays it at the next start instead of losing a
        carer's report (as Telegram's updates are kept)."""
        key = event_key(body)
        try:
            new = await inbox.store(
                self.svc.db, NAME, key, json.dumps(stored), self.svc.clock.now()
            )
        except Exception as exc:  # noqa: BLE001 - the person is told to send it again
            log.error("could not store a slack request: %s", type(exc).__name__)
            if "command" in stored:
                await ack(text=NOT_STORED)
            else:
                await ack()
                with contextlib.suppress(Exception):
                    await self._ephemeral(respond, NOT_STORED)
            return
        await ack()  # within Slack's three seconds; the answer follows
        if new:  # not new: the same request again, already kept
            async with self._job("command" if "command" in stored else "button"):
                await self._handle_stored(key, stored, respond)

    async def _handle_stored(self, key: int, stored: dict[str, Any], respond: Any) -> None:
        """Carry out a stored request; its writes mark it applied, so a replay never redoes it."""
        try:
            with inbox.applying(NAME, key, self.svc.clock.now()):
                if "command" in stored:
                    await self._command(stored["command"], respond)
                else:
                    await self._pressed(stored["press"], stored["action"], respond)
        except asyncio.CancelledError:
            raise  # stopping, like a crash: replayed at the next start
        except Exception:
            await inbox.mark_handled(self.svc.db, NAME, [key], self.svc.clock.now())
            raise  # logged by _job; not replayed again and again
        await inbox.mark_handled(self.svc.db, NAME, [key], self.svc.clock.now())

    async def _replay(self) -> None:
        """Requests stored but not handled when the bot last stopped, oldest first."""
        for pending in await inbox.unhandled(self.svc.db, NAME):
            async with self._job("replayed request"):
                stored = _stored(pending.payload)
                body = stored and (stored.get("command") or stored.get("press"))
                if stored and body and pending.applied_at is not None:
                    await self.sender.dm(
                        str(body.get("user_id") or (body.get("user") or {}).get("id") or ""),
                        recorded_before_restart(
                            _what(stored), pending.applied_at, self.svc.display_zone
                        ),
                    )
                elif stored and body:
                    respond = AsyncRespond(response_url=body.get("response_url"))
                    await self._handle_stored(pending.update_id, stored, respond)
                    continue
                await inbox.mark_handled(
                    self.svc.db, NAME, [pending.update_id], self.svc.clock.now()
                )

    async def _command(self, body: dict[str, Any], respond: Any) -> None:
        user_id = str(body.get("user_id") or "")
        text = unescape(str(body.get("text") or ""))  # Slack escapes &, < and >
        name, text = command_words(str(body.get("command") or ""), text)
        staff = await self._who(user_id)
        chat = await self._chat(
            str(body.get("channel_id") or ""), body.get("channel_name"), user_id
        )
        if name == "start":
            await self._start(user_id, staff, text)
            return
        if name == "register":
            await self._register(user_id, staff, chat, text, respond)
            return
        if chat.is_group and chat.team is None:
            await self._ephemeral(respond, NOT_SET_UP)
            return
        if name == "absent" and not text and staff is not None:
            await self._open_report(str(body.get("trigger_id") or ""), staff, user_id, chat)
            return
        outcome = await self.dispatcher.handle(staff, f"/{name} {text}".strip(), chat)
        await self._answer(user_id, staff, chat, outcome, respond, name)
        await self._after()

    async def _start(self, user_id: str, staff: Staff | None, code: str) -> None:
        if not code.strip():
            await self.sender.dm(
                user_id, NOT_ENROLLED if staff is None else "You're enrolled. Send /help."
            )
            return
        enrolled = await enrolment.redeem(self.svc, NAME, user_id, code)
        if enrolled is None:
            await self.sender.dm(user_id, enrolment.REFUSED)
            return
        where = enrolled.home or enrolled.team or "the service"
        await self.sender.dm(
            user_id,
            f"Welcome, {enrolled.name}. You're enrolled as {enrolled.role.value.replace('_', ' ')}"
            f" ({where}). Send /help for the commands, or /absent to report a child missing.",
        )

    async def _register(
        self, user_id: str, staff: Staff | None, chat: Chat, team: str, respond: Any
    ) -> None:
        if staff is None:
            await self.sender.dm(user_id, NOT_ENROLLED)
            return
        if not chat.is_group:
            await self.sender.dm(user_id, "Send /register <team> in the team's channel.")
            return
        answer = await enrolment.register_chat(self.svc, staff, NAME, chat.chat_id, team)
        if staff.role not in enrolment.REGISTRARS or not team.strip():
            await self._ephemeral(respond, answer)
            return
        try:  # said in the channel, which also proves the bot can post there
            await self.sender.post(chat.chat_id, answer, patient=True)
        except SlackApiError:
            await self._ephemeral(respond, f"{answer}\n{CANT_POST}")

    async def _answer(
        self,
        user_id: str,
        staff: Staff | None,
        chat: Chat,
        outcome: Outcome,
        respond: Any,
        name: str,
    ) -> None:
        """Replies about an episode go into its thread in a team channel; anything private by
        direct message; the rest only to the person who typed the command."""
        for reply in outcome.replies:
            text = reply.text + SLACK_HELP if reply.text == HELP else reply.text
            if chat.is_group and staff is not None and not reply.private:
                if outcome.episode_ids:
                    footer = f"{staff.name} used /{name}"
                    await self._in_thread(
                        chat.chat_id, outcome.episode_ids[0], text, reply, footer, respond
                    )
                    continue
                if respond is not None:
                    await self._ephemeral(respond, text, reply.buttons)
                    continue
            await self.sender.dm(user_id, text, reply.buttons)

    async def _in_thread(
        self, channel: str, episode_id: int, text: str, reply: Reply, footer: str, respond: Any
    ) -> None:
        root = await chats.thread_root(self.svc.db, episode_id, NAME, channel)
        try:
            sent = await self.sender.post(
                channel, text, reply.buttons, thread_ts=root, footer=footer, patient=True
            )
        except SlackApiError:
            if respond is None:
                raise
            await self._ephemeral(respond, f"{text}\n{CANT_POST}", reply.buttons)
            return
        await self.sender.record_reply(episode_id, channel, sent)

    async def _ephemeral(self, respond: Any, text: str, buttons: tuple[Button, ...] = ()) -> None:
        """Only the person who typed or pressed sees it, where they are."""
        for part in message_parts(text, buttons):
            await respond(
                text=part.text,
                blocks=part.blocks,
                response_type="ephemeral",
                replace_original=False,
            )

    # ---- the report form ---------------------------------------------------------------

    async def _open_report(self, trigger_id: str, staff: Staff, user_id: str, chat: Chat) -> None:
        children = [
            c for c in await child_store.list_children(self.svc.db) if may(staff, "report", c)
        ]
        if not children:
            await self.sender.dm(user_id, "There are no children you can report. Ask your manager.")
            return
        metadata = {"channel": chat.chat_id if chat.is_group else ""}
        await self.client.views_open(trigger_id=trigger_id, view=report_modal(children, metadata))

    async def _on_open_report(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        async with self._job("open report"):
            user_id = str((body.get("user") or {}).get("id") or "")
            staff = await self._who(user_id)
            if staff is None:
                await self.sender.dm(user_id, NOT_ENROLLED)
                return
            await self._open_report(
                str(body.get("trigger_id") or ""), staff, user_id, Chat(NAME, user_id)
            )

    async def _on_report_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        async with self._job("report"):
            await self._report_submitted(ack, body, view)

    async def _report_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Checked against the form's fields first; then the same /absent command as typed."""
        user_id = str((body.get("user") or {}).get("id") or "")
        staff = await self._who(user_id)
        if staff is None:
            await ack(response_action="errors", errors={"child": NOT_ENROLLED})
            return
        values = (view.get("state") or {}).get("values") or {}
        errors, command = await check_report(self.svc, staff, values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        chat = await self._chat(str(metadata.get("channel") or ""), None, user_id)
        if chat.is_group and chat.team is None:
            chat = Chat(NAME, user_id)
        task = asyncio.ensure_future(self.dispatcher.handle(staff, command, chat))
        done, _ = await asyncio.wait({task}, timeout=self.submit_wait)
        if done and not task.result().episode_ids:
            refusal = task.result().text  # nothing was saved: say why, against the form
            field = "seen" if "last seen" in refusal.lower() else "child"
            await ack(response_action="errors", errors={field: refusal})
            return
        await ack()
        outcome = await task
        if not outcome.episode_ids:
            outcome = Outcome.say(f"{outcome.text}\nYour report was not saved.")
        await self._answer(user_id, staff, chat, outcome, None, "absent")
        await self._after()

    # ---- alert buttons -----------------------------------------------------------------

    async def _on_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await self._durably(ack, {"press": body, "action": action}, body, respond)

    async def _pressed(self, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """The same as typing the button's command; the message then shows who took it. Two
        presses at once: the database lets one win, and the other is told who has it."""
        user_id = str((body.get("user") or {}).get("id") or "")
        command = str(action.get("value") or "")
        label = str((action.get("text") or {}).get("text") or command)
        channel = body.get("channel") or {}
        container = body.get("container") or {}
        channel_id = str(channel.get("id") or container.get("channel_id") or "")
        staff = await self._who(user_id)
        chat = await self._chat(channel_id, channel.get("name"), user_id)
        if staff is None or (chat.is_group and chat.team is None):
            await self._tell(body, respond, user_id, Reply(NOT_SET_UP if staff else NOT_ENROLLED))
            return
        message_ts = str((body.get("message") or {}).get("ts") or container.get("message_ts") or "")
        key = (channel_id, message_ts)
        async with self.presses.lock(key):
            before = await self.presses.mark(command)
            outcome = await self.dispatcher.handle(staff, command, chat)
            if await self.presses.took_effect(staff, before):
                await self._show_pressed(body, key, label, staff, respond)
        for reply in outcome.replies:
            await self._tell(body, respond, user_id, reply, chat)
        await self._after()

    async def _show_pressed(
        self, body: dict[str, Any], key: tuple[str, str], label: str, staff: Staff, respond: Any
    ) -> None:
        line = f"✔ {label}: {staff.name}, {short_time(self.svc.clock.now(), self.svc.display_zone)}"
        if (body.get("container") or {}).get("is_ephemeral"):
            await respond(text=escape(line), replace_original=True)
            return
        if not key[0] or not key[1]:
            return
        text, blocks = self.presses.pressed_message(key, body.get("message") or {}, line)
        try:
            await self.sender.update(key[0], key[1], text, blocks)
        except SlackApiError as exc:  # the press is recorded; only the message is stale
            log.warning("slack: could not update a pressed message (%s)", error_code(exc))
            return
        self.presses.shown(key, text, blocks)

    async def _tell(
        self,
        body: dict[str, Any],
        respond: Any,
        user_id: str,
        reply: Reply,
        chat: Chat | None = None,
    ) -> None:
        """An answer to a press: to the presser only (private ones by direct message)."""
        if body.get("response_url") and not (reply.private and chat is not None and chat.is_group):
            await self._ephemeral(respond, reply.text, reply.buttons)
        else:
            await self.sender.dm(user_id, reply.text, reply.buttons)

    # ---- App Home and direct messages ---------------------------------------------------

    async def _on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        async with self._job("home"):
            await self.publish_home(str(event.get("user") or ""))

    async def publish_home(self, user_id: str) -> None:
        """The person's open episodes and open duties (overdue first), from the same queries
        as /status and /duties."""
        staff = await self._who(user_id)
        now = self.svc.clock.now()
        stamp = short_time(now, self.svc.display_zone)
        if staff is None:
            view = home_view(NOT_ENROLLED, None, None, False, stamp)
        else:
            episodes = await views.status(self.svc, staff, None)
            duties = await duty_commands.list_duties(Step(self.svc, staff, now))
            greeting = f"{staff.name}, {staff.role.value.replace('_', ' ')}."
            view = home_view(greeting, episodes, duties, staff.role in ACTIONS["report"], stamp)
        await self.client.views_publish(user_id=user_id, view=view)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """Direct messages: an invite code (or /start <code>), or a command typed as text."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        if not self._first_time(str(body.get("event_id") or event.get("client_msg_id") or "")):
            return  # Slack delivers an event again if it thinks we missed it
        async with self._job("message"):
            await self._direct_text(str(event.get("user") or ""), str(event.get("text") or ""))

    def _first_time(self, event_id: str) -> bool:
        if not event_id:
            return True
        if event_id in self._events:
            return False
        self._events.put(event_id, True)
        return True

    async def _direct_text(self, user_id: str, text: str) -> None:
        words = unescape(text).split()
        if not words or not user_id:
            return
        staff = await self._who(user_id)
        first = words[0].lower()
        if first in ("/start", "start"):
            await self._start(user_id, staff, " ".join(words[1:]))
        elif staff is None and len(words) == 1:
            await self._start(user_id, None, words[0])  # a stranger's one word: their code?
        elif staff is None:
            await self.sender.dm(user_id, NOT_ENROLLED)
        elif first.startswith("/"):
            name, rest = command_words(words[0], " ".join(words[1:]))
            chat = Chat(NAME, user_id)
            if name == "register":
                await self.sender.dm(user_id, "Send /register <team> in the team's channel.")
                return
            outcome = await self.dispatcher.handle(staff, f"/{name} {rest}".strip(), chat)
            await self._answer(user_id, staff, chat, outcome, None, name)
            await self._after()
        else:
            await self.sender.dm(user_id, DM_HINT)
