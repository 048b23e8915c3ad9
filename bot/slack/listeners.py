"""Slack, incoming: slash commands, alert buttons, the App Home tab and direct messages, as
Bolt listeners (the report form is form.py).

Each becomes a typed command for the dispatcher, after the same first steps as on every
transport (handlers/intake.py); the flows (enrolment, registration, the guided report's
checks, the taken line) are handlers'. Only Slack's ways of answering live here: threads in
a team channel, ephemeral answers, direct messages, errors against a form's fields.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import escape, home_view, message_parts
from bot.slack.form import SUBMIT_WAIT, ReportForm
from bot.slack.inbox import DurableRequests, Jobs, is_direct_text, message_key
from bot.slack.interactions import Presses, command_words, unescape
from bot.slack.sender import NAME, SlackSender, error_code
from handlers import chat_registration, duty_commands, enrolment, views
from handlers.context import Services, Step
from handlers.dispatch import Dispatcher
from handlers.help_text import is_help
from handlers.intake import Route, route
from handlers.messages import NOT_ENROLLED, Chat, Outcome, Reply, taken_line
from reminders.access import ACTIONS
from reminders.formatting import short_time
from storage import chat_store, staff_store
from storage.models import Button, Staff

log = logging.getLogger(__name__)

NOT_SET_UP = (
    "Whereabouts isn't set up in this channel. An admin or manager can register it with "
    "/register <team> (or /missing register <team>)."
)
REGISTER_WHERE = "in the team's channel"  # where /register is sent, on Slack
SLACK_HELP = (
    "\nOn Slack: /absent on its own opens a form. Every command also works as "
    "/missing <command> …, e.g. /missing status. Slack keeps /status and /away for itself: "
    "here they are /wb-status and /wb-away."
)
CANT_POST = "(I can't post in this channel yet: invite me with /invite @Whereabouts.)"
NOT_ISSUED = "That button isn't one I sent, so nothing was done. Type the command instead."


class Listeners:
    def __init__(
        self,
        svc: Services,
        client: AsyncWebClient,
        sender: SlackSender,
        after: Callable[[], Awaitable[None]],
        submit_wait: float = SUBMIT_WAIT,
    ) -> None:
        self.svc = svc
        self.client = client
        self.sender = sender
        self.after = after
        self.dispatcher = Dispatcher(svc)
        self.jobs = Jobs()
        self.requests = DurableRequests(svc, self.jobs, self._carry_out)
        self.presses = Presses(svc)
        self.form = ReportForm(self, submit_wait)

    async def who(self, user_id: str) -> Staff | None:
        if not user_id:
            return None
        return await staff_store.staff_by_identity(self.svc.db, NAME, user_id)

    async def chat(self, channel_id: str, channel_name: str | None, user_id: str) -> Chat:
        """A team channel (registered or not), else the person's direct chat with the bot."""
        if not channel_id or channel_id.startswith("D") or channel_name == "directmessage":
            return Chat(NAME, user_id)
        team = await chat_store.team_of_chat(self.svc.db, NAME, channel_id)
        return Chat(NAME, channel_id, True, team)

    async def _carry_out(self, stored: dict[str, Any], respond: Any) -> None:
        if "command" in stored:
            await self._command(stored["command"], respond)
        elif "message" in stored:
            event = stored["message"]
            await self._direct_text(str(event.get("user") or ""), str(event.get("text") or ""))
        else:
            await self._pressed(stored["press"], stored["action"], respond)

    # ---- slash commands ----------------------------------------------------------------

    async def on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await self.requests.keep(ack, {"command": body}, body, respond, self._ephemeral)

    async def _command(self, body: dict[str, Any], respond: Any) -> None:
        user_id = str(body.get("user_id") or "")
        text = unescape(str(body.get("text") or ""))  # Slack escapes &, < and >
        name, text = command_words(str(body.get("command") or ""), text)
        staff = await self.who(user_id)
        chat = await self.chat(str(body.get("channel_id") or ""), body.get("channel_name"), user_id)
        way = route(name, text, staff, chat)
        if way is Route.ENROL:
            await self._start(user_id, staff, text)
            return
        if way is Route.REGISTER:
            await self._register(user_id, staff, chat, text, respond)
            return
        if way is Route.NOT_SET_UP:
            await self._ephemeral(respond, NOT_SET_UP)
            return
        if way is Route.GUIDED_REPORT and staff is not None:
            await self.form.open(str(body.get("trigger_id") or ""), staff, user_id, chat)
            return
        outcome = await self.dispatcher.handle(staff, f"/{name} {text}".strip(), chat)
        await self.answer(user_id, staff, chat, outcome, respond, name)
        await self.after()

    async def _start(self, user_id: str, staff: Staff | None, code: str) -> None:
        outcome = await enrolment.start(self.svc, NAME, user_id, staff, code)
        await self.sender.dm(user_id, outcome.text)

    async def _register(
        self, user_id: str, staff: Staff | None, chat: Chat, team: str, respond: Any
    ) -> None:
        outcome = await chat_registration.register(self.svc, staff, chat, team, REGISTER_WHERE)
        if any(reply.private for reply in outcome.replies):
            await self.sender.dm(user_id, outcome.text)
            return
        if outcome.refused:  # refused, or asked to confirm: for the person alone
            buttons = tuple(b for reply in outcome.replies for b in reply.buttons)
            if respond is None:
                await self.sender.dm(user_id, outcome.text, buttons)
            else:
                await self._ephemeral(respond, outcome.text, buttons)
            return
        try:  # said in the channel, which also proves the bot can post there
            await self.sender.post(chat.chat_id, outcome.text, patient=True)
        except SlackApiError:
            await self._ephemeral(respond, f"{outcome.text}\n{CANT_POST}")
        await self.after()  # a move or a replacement told the old chat and the admins

    async def answer(
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
            text = reply.text + SLACK_HELP if is_help(reply.text) else reply.text
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
        root = await chat_store.thread_root(self.svc.db, episode_id, NAME, channel)
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
        for part in message_parts(text, buttons, seal=self.sender.seal):
            await respond(
                text=part.text,
                blocks=part.blocks,
                response_type="ephemeral",
                replace_original=False,
            )

    # ---- alert buttons -----------------------------------------------------------------

    async def on_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        stored = {"press": body, "action": action}
        await self.requests.keep(ack, stored, body, respond, self._ephemeral)

    async def _pressed(self, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """The same as typing the button's command; the message then shows who took it. Two
        presses at once: the database lets one win, and the other is told who has it."""
        user_id = str((body.get("user") or {}).get("id") or "")
        command = str(action.get("value") or "")
        label = str((action.get("text") or {}).get("text") or "")
        if not self.sender.seal.issued(str(action.get("action_id") or ""), label, command):
            # made up, not a button the bot sent: nothing run, nothing of it repeated
            await self._tell(body, respond, user_id, Reply(NOT_ISSUED))
            return
        channel = body.get("channel") or {}
        container = body.get("container") or {}
        channel_id = str(channel.get("id") or container.get("channel_id") or "")
        staff = await self.who(user_id)
        chat = await self.chat(channel_id, channel.get("name"), user_id)
        name, words = command_words(command.partition(" ")[0], command.partition(" ")[2])
        if name == "register" and staff is not None:  # a confirmation's button
            await self._register(user_id, staff, chat, words, respond)
            return
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
        await self.after()

    async def _show_pressed(
        self, body: dict[str, Any], key: tuple[str, str], label: str, staff: Staff, respond: Any
    ) -> None:
        line = taken_line(label, staff.name, self.svc.clock.now(), self.svc.display_zone)
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

    async def on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        async with self.jobs.job("home"):
            await self.publish_home(str(event.get("user") or ""))

    async def publish_home(self, user_id: str) -> None:
        """The person's open episodes and open duties (overdue first), from the same queries
        as /status and /duties."""
        staff = await self.who(user_id)
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

    async def keep_message(self, body: dict[str, Any], next: Any) -> Any:
        """Bolt middleware on `message` events: a direct message is stored before the ack."""
        return await self.requests.keep_message(body, next, self.sender.dm)

    async def on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """Direct messages: an invite code (or /start <code>), or a command typed as text.
        Stored by `keep_message` before the ack; carried out here under its inbox key."""
        event_id = str(body.get("event_id") or "")
        if not is_direct_text(event) or not event_id:
            return
        async with self.jobs.job("message"):
            await self.requests.carry_out(message_key(event_id), {"message": event}, None)

    async def _direct_text(self, user_id: str, text: str) -> None:
        words = unescape(text).split()
        if not words or not user_id:
            return
        staff = await self.who(user_id)
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
                await self._register(user_id, staff, chat, rest, None)
                return
            outcome = await self.dispatcher.handle(staff, f"/{name} {rest}".strip(), chat)
            await self.answer(user_id, staff, chat, outcome, None, name)
            await self.after()
        else:  # plain words: a draft to confirm (handlers/plain_words.py), nothing recorded
            chat = Chat(NAME, user_id)
            outcome = await self.dispatcher.handle(staff, " ".join(words), chat)
            await self.answer(user_id, staff, chat, outcome, None, "message")
