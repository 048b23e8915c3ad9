"""Teams, incoming: typed commands (1:1 chats and channels), card presses, the report form,
and the installation activities that give the conversation references.

Each becomes a typed command for the dispatcher, after the same first steps as on every
transport (handlers/intake.py); the flows (enrolment, registration, the guided report's checks,
the taken line) are handlers'. Only Teams' ways of answering live here: the episode's thread
in a channel (reference and first name only, as the handlers word it), 1:1 chats for anything
private, a card's answer to its press.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.slack.interactions import Presses
from bot.teams import cards
from bot.teams.inbox import (
    NOT_STORED,
    Activity,
    DurableActivities,
    Jobs,
    base_id,
    sender_of,
    typed_text,
)
from bot.teams.sender import NAME, TeamsSender, thread
from handlers import chat_registration, enrolment, guided_report
from handlers.commands import BY_NAME
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.help_text import is_help
from handlers.intake import Route, route
from handlers.messages import NOT_ENROLLED, Chat, Outcome, Reply, taken_line
from storage import chat_store, staff_store, teams_store
from storage.models import Button, Staff
from storage.teams_store import Reference

NOT_SET_UP = (
    "Whereabouts isn't set up in this channel. An admin or manager can register it with "
    "/register <team> (mention @Whereabouts first)."
)
REGISTER_WHERE = "in the team's channel (mention @Whereabouts first)"
TEAMS_HELP = (
    "\nOn Teams: in a channel, mention @Whereabouts before the command. /absent on its own "
    "sends you the report form in your chat with Whereabouts."
)
NOT_ISSUED = "That button isn't one I sent, so nothing was done. Type the command instead."
FORM_SENT = "I've sent you the report form in your chat with Whereabouts."
NO_PRIVATE_CHAT = (
    "I can't write to you privately yet: add the Whereabouts app for yourself in Teams (Apps > "
    "Whereabouts > Add), then try again."
)
WELCOME = (
    "Whereabouts is installed. If your manager gave you an invite code, send it here to enrol."
)
REPORT_SENT = "Report sent: see my answer below."
WORDS = frozenset({*BY_NAME, "start", "register", "cancel"})

Respond = dict[str, Any]


def command_of(text: str) -> tuple[str, str] | None:
    """('absent', 'Jay 21:05 …') for '/absent Jay …' or 'absent Jay …' (Teams' command menu
    inserts the word without a slash); None for plain words."""
    head, _, rest = text.partition(" ")
    name = head.lower().removeprefix("/")
    if head.startswith("/") or name in WORDS:
        return name, rest.strip()
    return None


def reference_of(activity: Activity) -> Reference:
    conversation = activity.get("conversation") or {}
    channel_data = activity.get("channelData") or {}
    kind = str(conversation.get("conversationType") or "personal")
    channel = (channel_data.get("channel") or {}).get("id")
    team = (channel_data.get("team") or {}).get("id")
    conversation_id = base_id(str(conversation.get("id") or ""))
    if kind == "channel" and channel:
        conversation_id = str(channel)
    tenant = (channel_data.get("tenant") or {}).get("id") or conversation.get("tenantId") or ""
    return Reference(
        conversation_id=conversation_id,
        kind=kind,
        user_id=sender_of(activity) if kind == "personal" else None,
        team_id=str(team) if team else None,
        tenant_id=str(tenant),
        service_url=str(activity.get("serviceUrl") or ""),
        bot_id=str((activity.get("recipient") or {}).get("id") or ""),
    )


def invoke_card(card: cards.Card) -> Respond:
    return {"statusCode": 200, "type": cards.CARD_TYPE, "value": card}


def invoke_message(text: str) -> Respond:
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


class Listeners:
    def __init__(
        self, svc: Services, sender: TeamsSender, after: Callable[[], Awaitable[None]]
    ) -> None:
        self.svc = svc
        self.sender = sender
        self.after = after
        self.dispatcher = Dispatcher(svc)
        self.jobs = Jobs()
        self.presses = Presses(svc)
        self.activities = DurableActivities(svc, self._carry_out)

    # ---- what comes in (already checked by auth.py) ----------------------------------------

    async def receive(self, activity: Activity) -> tuple[int, Respond | None]:
        """The HTTP answer to an activity: stored first if it carries a command."""
        kind = activity.get("type")
        ref = reference_of(activity)
        if ref.conversation_id and ref.service_url:
            await teams_store.remember(self.svc.db, ref, self.svc.clock.now())
        if kind in ("installationUpdate", "conversationUpdate"):
            await self._installation(activity, ref)
            return 200, None
        if kind == "message" and typed_text(activity):
            kept = await self.activities.keep(activity)
            if kept is None:  # nothing was done: the person is told to send it again
                self.jobs.start("refusal", self._not_stored(activity))
                return 200, None
            if kept:
                self.jobs.start("message", self._after_200(activity))
            return 200, None
        if kind == "invoke" and activity.get("name") == "adaptiveCard/action":
            kept = await self.activities.keep(activity)
            if kept is None:
                return 200, invoke_message(NOT_STORED)
            if not kept:
                return 200, invoke_message("That press was already received.")
            answer = await self.activities.carry_out(activity)
            return 200, answer or invoke_message("Done.")
        return 200, None

    async def _not_stored(self, activity: Activity) -> None:
        await self._in_place(activity, NOT_STORED)

    async def _after_200(self, activity: Activity) -> None:
        await self.activities.carry_out(activity)

    async def _carry_out(self, activity: Activity) -> Respond | None:
        if activity.get("type") == "invoke":
            return await self._pressed(activity)
        await self._typed(activity)
        return None

    async def _installation(self, activity: Activity, ref: Reference) -> None:
        now = self.svc.clock.now()
        bot = ref.bot_id
        removed = activity.get("action") in ("remove", "remove-upgrade") or any(
            m.get("id") == bot for m in activity.get("membersRemoved") or []
        )
        added = activity.get("action") in ("add", "add-upgrade") or any(
            m.get("id") == bot for m in activity.get("membersAdded") or []
        )
        if removed:
            if ref.kind == "channel" and ref.team_id:
                await teams_store.forget_team(self.svc.db, ref.team_id, now)
            await teams_store.forget(self.svc.db, ref.conversation_id, now)
            return
        if added and ref.kind == "personal" and ref.user_id:
            async with self.svc.db.write() as tx:
                await staff_store.clear_blocked(tx, NAME, ref.user_id)
            if await self.who(ref.user_id) is None:
                await self.sender.post(ref, ref.conversation_id, WELCOME, patient=True)

    # ---- who and where ---------------------------------------------------------------------

    async def who(self, user_id: str) -> Staff | None:
        if not user_id:
            return None
        return await staff_store.staff_by_identity(self.svc.db, NAME, user_id)

    async def chat(self, activity: Activity) -> Chat:
        ref = reference_of(activity)
        if ref.kind == "personal":
            return Chat(NAME, sender_of(activity))
        team = await chat_store.team_of_chat(self.svc.db, NAME, ref.conversation_id)
        return Chat(NAME, ref.conversation_id, True, team)

    async def _in_place(
        self, activity: Activity, text: str, buttons: tuple[Button, ...] = ()
    ) -> list[str]:
        """In the conversation (and channel thread) the activity came from."""
        ref = reference_of(activity)
        conversation = str((activity.get("conversation") or {}).get("id") or ref.conversation_id)
        return await self.sender.post(ref, conversation, text, buttons, patient=True)

    async def _private(
        self, activity: Activity, text: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """To the person's 1:1 chat; if they have none, said where they are that they need one."""
        if not await self.sender.dm(sender_of(activity), text, buttons):
            await self._in_place(activity, NO_PRIVATE_CHAT)

    # ---- typed commands ----------------------------------------------------------------------

    async def _typed(self, activity: Activity) -> None:
        user_id = sender_of(activity)
        text = typed_text(activity)
        staff = await self.who(user_id)
        chat = await self.chat(activity)
        command = command_of(text)
        if command is None:
            if chat.is_group and chat.team is None:
                await self._in_place(activity, NOT_SET_UP)
                return
            if staff is None and not chat.is_group and len(text.split()) == 1:
                command = ("start", text)  # a stranger's one word in a 1:1: their code?
            else:  # plain words: a draft to confirm (handlers/plain_words.py), nothing recorded
                outcome = await self.dispatcher.handle(staff, text, chat)
                await self.answer(activity, staff, chat, outcome, "message")
                return
        name, args = command
        way = route(name, args, staff, chat, enrol_in_groups=False)
        if way is Route.ENROL:
            outcome = await enrolment.start(self.svc, NAME, user_id, staff, args)
            await self._in_place(activity, outcome.text)
        elif way is Route.REGISTER:
            await self._register(activity, staff, chat, args)
        elif way is Route.NOT_SET_UP:
            await self._in_place(activity, NOT_SET_UP)
        elif way is Route.GUIDED_REPORT and staff is not None:
            await self._open_form(activity, staff, chat)
        else:
            outcome = await self.dispatcher.handle(staff, f"/{name} {args}".strip(), chat)
            await self.answer(activity, staff, chat, outcome, name)
            await self.after()

    async def _register(
        self, activity: Activity, staff: Staff | None, chat: Chat, team: str
    ) -> None:
        outcome = await chat_registration.register(self.svc, staff, chat, team, REGISTER_WHERE)
        for reply in outcome.replies:
            if chat.is_group and (reply.private or outcome.refused):  # for the person alone
                await self._private(activity, reply.text, reply.buttons)
            else:  # said in the channel, which also proves the bot can post there
                await self._in_place(activity, reply.text, reply.buttons)
        await self.after()  # a move or a replacement told the old chat and the admins

    async def answer(
        self, activity: Activity, staff: Staff | None, chat: Chat, outcome: Outcome, name: str
    ) -> None:
        """Replies about an episode go into its thread in a team channel; anything private by
        the 1:1 chat; the rest where the command was typed."""
        for reply in outcome.replies:
            text = reply.text + TEAMS_HELP if is_help(reply.text) else reply.text
            if chat.is_group and reply.private:
                await self._private(activity, text, reply.buttons)
            elif chat.is_group and staff is not None and outcome.episode_ids:
                await self._in_thread(activity, chat, outcome.episode_ids[0], staff, name, reply)
            else:
                await self._in_place(activity, text, reply.buttons)

    async def _in_thread(
        self, activity: Activity, chat: Chat, episode_id: int, staff: Staff, name: str, reply: Reply
    ) -> None:
        ref = await teams_store.conversation(self.svc.db, chat.chat_id) or reference_of(activity)
        root = await chat_store.thread_root(self.svc.db, episode_id, NAME, chat.chat_id)
        footer = f"{staff.name} used /{name}"
        sent = await self.sender.post(
            ref, thread(chat.chat_id, root), reply.text, reply.buttons, footer=footer, patient=True
        )
        await self.sender.record_reply(episode_id, chat.chat_id, sent)

    # ---- the report form -------------------------------------------------------------------------

    async def _open_form(self, activity: Activity, staff: Staff, chat: Chat) -> None:
        children = await guided_report.reportable_children(self.svc, staff, chat)
        if not children:
            await self._private(activity, guided_report.NO_CHILDREN)
            return
        card = cards.report_card(children, chat.chat_id if chat.is_group else "")
        ref = await teams_store.personal(self.svc.db, sender_of(activity))
        if ref is None:
            await self._in_place(activity, NO_PRIVATE_CHAT)
            return
        activity_out = self.sender.card_activity(card)
        api = self.sender.api(ref.service_url).conversations
        await self.sender._call(
            ref.conversation_id,
            True,
            lambda: api.create_activity(ref.conversation_id, activity_out),
        )
        if chat.is_group:
            await self._in_place(activity, FORM_SENT)

    async def _submitted(self, activity: Activity, staff: Staff, data: dict[str, Any]) -> Respond:
        """Checked against the form's fields first; then the same /absent command as typed."""
        answers = cards.read_report(data)
        channel = str(data.get("channel") or "")
        chat = Chat(NAME, sender_of(activity))
        if channel:
            team = await chat_store.team_of_chat(self.svc.db, NAME, channel)
            if team is not None:
                chat = Chat(NAME, channel, True, team)
        errors, command = await guided_report.check_form(self.svc, staff, answers)
        if not errors:
            outcome = await self.dispatcher.handle(staff, command, chat)
            if not outcome.episode_ids:
                field = guided_report.field_refused(outcome.field_code)
                errors = {field: outcome.text}
        if errors:
            children = await guided_report.reportable_children(self.svc, staff, chat)
            return invoke_card(cards.report_card(children, channel, errors, answers))
        await self.answer(activity, staff, chat, outcome, "absent")
        await self.after()
        return invoke_card(cards.closed_card(REPORT_SENT))

    # ---- card presses ------------------------------------------------------------------------------

    async def _pressed(self, activity: Activity) -> Respond:
        """The same as typing the button's command; the card then shows who took it. Two
        presses at once: the database lets one win, and the other is told who has it."""
        action = (activity.get("value") or {}).get("action") or {}
        user_id = sender_of(activity)
        staff = await self.who(user_id)
        if action.get("verb") == cards.REPORT_VERB:
            if staff is None:
                return invoke_message(NOT_ENROLLED)
            return await self._submitted(activity, staff, action.get("data") or {})
        pressed = cards.sealed_press(action.get("data"), self.sender.seal)
        if action.get("verb") != cards.COMMAND_VERB or pressed is None:
            return invoke_message(NOT_ISSUED)  # made up: nothing run, nothing of it repeated
        label, command = pressed
        chat = await self.chat(activity)
        name, _, words = command.removeprefix("/").partition(" ")
        if name == "register" and staff is not None:  # a confirmation's button
            await self._register(activity, staff, chat, words)
            return invoke_card(cards.closed_card(taken_line(
                label, staff.name, self.svc.clock.now(), self.svc.display_zone
            )))  # fmt: skip
        if staff is None or (chat.is_group and chat.team is None):
            return invoke_message(NOT_SET_UP if staff else NOT_ENROLLED)
        card_id = str(activity.get("replyToId") or "")
        key = (base_id(str((activity.get("conversation") or {}).get("id") or "")), card_id)
        async with self.presses.lock(key):
            before = await self.presses.mark(command)
            outcome = await self.dispatcher.handle(staff, command, chat)
            took = await self.presses.took_effect(staff, before)
            card = None
            if took or (not outcome.refused and before.episode_id is None):
                line = taken_line(label, staff.name, self.svc.clock.now(), self.svc.display_zone)
                shown = self.sender.cards.get(card_id) or cards.closed_card("")
                card = self.sender.cards.put(card_id, cards.pressed(shown, line))
        if card is None:  # lost the race, or refused: nothing changed, the presser is told why
            await self.after()
            return invoke_message(outcome.text)
        for reply in outcome.replies:
            if chat.is_group and not reply.private and outcome.episode_ids:
                await self._in_thread(activity, chat, outcome.episode_ids[0], staff, name, reply)
            else:
                await self._private(activity, reply.text, reply.buttons)
        await self.after()
        return invoke_card(card)
