"""Telegram, incoming: commands, button presses, edits and replays, as PTB handlers.

What Telegram sends becomes a typed command for the dispatcher, after the same first steps
as on every transport (handlers/intake.py); the flows (enrolment, registration, the taken
line) are handlers'. Only Telegram's ways of answering live here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram import Bot, Message, ReplyParameters, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.telegram.keyboards import issued, keyboard, pressed_label
from bot.telegram.sender import NAME, TEXT_LIMIT, TelegramSender
from handlers import chat_registration, enrolment
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.intake import Route, route
from handlers.messages import NOT_ENROLLED, Chat, Outcome, recorded_before_restart, taken_line
from storage import chat_store, inbox_store, staff_store
from storage.models import Staff

log = logging.getLogger(__name__)

ANSWER_LIMIT = 200  # a button press's pop-up answer (answerCallbackQuery)
NOT_ISSUED = "That button isn't one I sent, so nothing was done. Type the command instead."
NOT_SET_UP = (
    "Whereabouts isn't set up in this chat. An admin or manager can register it with "
    "/register <team>."
)
REGISTER_WHERE = "inside the team's group chat"  # where /register is sent, on Telegram
EDITS_KEEP_THE_RECORD = (
    "Edits don't change the record: the timeline keeps what was sent. "
    "Send a new /update to correct it."
)


def command_name(text: str) -> str:
    """'/Absent@WhereaboutsBot Jay …' → 'absent'."""
    return text.split()[0].split("@")[0].lower().removeprefix("/")


def addressed(message: Message, bot: Bot) -> str | None:
    """A group message's words if it is for the bot (an @mention of it, or a reply to one
    of its messages), without the mention; None for the team's own chatter."""
    text = message.text or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return text
    handle = f"@{bot.username}".lower() if bot.username else None
    for entity in message.entities:
        if entity.type == "mention" and handle is not None:
            mention = message.parse_entity(entity)  # offsets count UTF-16 units
            if mention.lower() == handle:
                return " ".join(text.replace(mention, " ", 1).split())
    return None


class Listeners:
    def __init__(
        self,
        svc: Services,
        bot: Bot,
        sender: TelegramSender,
        applied_before: dict[int, datetime],
        after: Callable[[], Awaitable[None]],
    ) -> None:
        self.svc = svc
        self.bot = bot
        self.sender = sender
        self.dispatcher = Dispatcher(svc)
        self.after = after
        # {update_id: when its command was carried out} for updates replayed after a crash
        self.applied_before = applied_before

    async def replayed_after_crash(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """A replayed update whose command was stored before the crash: say so, don't redo it."""
        applied_at = self.applied_before.get(update.update_id)
        if applied_at is None:
            return
        message = update.effective_message
        said = (update.callback_query.data if update.callback_query else None) or (
            message.text if message else None
        )
        command = said.split()[0].split("@")[0] if said and said.startswith("/") else "message"
        text = recorded_before_restart(command, applied_at, self.svc.display_zone)
        try:
            if update.callback_query is not None:
                with contextlib.suppress(BadRequest):  # too old to answer: say it in the chat
                    await update.callback_query.answer(text[:ANSWER_LIMIT], show_alert=True)
                    return
            chat = update.effective_chat
            if chat is not None:
                reply = (
                    ReplyParameters(message.message_id, allow_sending_without_reply=True)
                    if message is not None
                    else None
                )
                await self.bot.send_message(chat.id, text, reply_parameters=reply)
        except Exception as exc:  # noqa: BLE001 - the note is lost, but the command is not redone
            log.warning("replay note not sent: %s", type(exc).__name__)
        finally:
            raise ApplicationHandlerStop  # noqa: B012 - whatever happened, never run it again

    async def dispatch(self, update: Update, staff: Staff | None, text: str, chat: Chat) -> Outcome:
        """The command, with its write marking this update applied in the same transaction."""
        with inbox_store.applying(NAME, update.update_id, self.svc.clock.now()):
            return await self.dispatcher.handle(staff, text, chat)

    async def who(self, update: Update) -> Staff | None:
        user = update.effective_user
        if user is None:
            return None
        return await staff_store.staff_by_identity(self.svc.db, NAME, str(user.id))

    async def chat(self, update: Update) -> Chat:
        chat = update.effective_chat
        assert chat is not None
        is_group = chat.type != "private"
        team = await chat_store.team_of_chat(self.svc.db, NAME, str(chat.id)) if is_group else None
        return Chat(NAME, str(chat.id), is_group, team)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        staff = await self.who(update)
        chat = await self.chat(update)
        _, _, args = message.text.partition(" ")
        # /start enrols in a direct chat only; in a group it is an ordinary command
        way = route(command_name(message.text), args, staff, chat, enrol_in_groups=False)
        if way is Route.REGISTER:
            team = " ".join(message.text.split()[1:])
            await self._register(update.update_id, message, staff, chat, team)
            return
        with inbox_store.applying(NAME, update.update_id, self.svc.clock.now()):
            if way is Route.ENROL:
                await self._start(message, staff)
                return
        if way is Route.NOT_SET_UP:
            await message.reply_text(NOT_SET_UP)
            return
        # Route.GUIDED_REPORT reaches here only mid-report (or for another bot): typed as is
        outcome = await self.dispatch(update, staff, message.text, chat)
        await self.sender.reply(message, outcome, chat)
        await self.after()

    async def on_plain(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Words that are not a command: read for a report draft (handlers/plain_words.py),
        in a direct chat, or in a team chat only when the bot is mentioned or replied to:
        a team's own chatter is not for the bot. Nothing is recorded until a draft's
        button (its command) is pressed."""
        message = update.effective_message
        if message is None or not message.text:
            return
        chat = await self.chat(update)
        text = message.text
        if chat.is_group:
            said = addressed(message, self.bot)
            if said is None:
                return
            if chat.team is None:
                await message.reply_text(NOT_SET_UP)
                return
            text = said
        staff = await self.who(update)
        outcome = await self.dispatcher.handle(staff, text, chat)
        await self.sender.reply(message, outcome, chat)

    async def _register(
        self, update_id: int, message: Message, staff: Staff | None, chat: Chat, team: str
    ) -> None:
        """Answered in the chat it was typed in (a stranger may not have a chat with the bot);
        a confirmation's button with it."""
        with inbox_store.applying(NAME, update_id, self.svc.clock.now()):
            outcome = await chat_registration.register(self.svc, staff, chat, team, REGISTER_WHERE)
        for reply in outcome.replies:
            await message.reply_text(reply.text, reply_markup=keyboard(reply.buttons))
        await self.after()  # a move or a replacement told the old chat and the admins

    async def _start(self, message: Message, staff: Staff | None) -> None:
        parts = (message.text or "").split(maxsplit=1)
        code = parts[1] if len(parts) == 2 else ""
        user = message.from_user
        assert user is not None
        outcome = await enrolment.start(self.svc, NAME, str(user.id), staff, code)
        await message.reply_text(outcome.text)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        if message and message.text and message.text.startswith("/"):
            await message.reply_text(EDITS_KEEP_THE_RECORD)

    async def only_issued_buttons(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Before any handler: a press whose data is not a button on its message (made up by
        the client) is refused, and nothing of it is run or repeated."""
        query = update.callback_query
        if query is None:
            return
        message = query.message if isinstance(query.message, Message) else None
        if message is None or query.data is None or not issued(message, query.data):
            await query.answer(NOT_ISSUED, show_alert=True)
            raise ApplicationHandlerStop

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An alert's button: the same as typing its command; the message then shows who."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        staff = await self.who(update)
        if staff is None:
            await query.answer(NOT_ENROLLED, show_alert=True)
            return
        chat = await self.chat(update)
        if command_name(query.data) == "register" and isinstance(query.message, Message):
            # a confirmation's button: the same as typing it, answered in the chat
            await query.answer()
            words = query.data.partition(" ")[2]
            await self._register(update.update_id, query.message, staff, chat, words)
            return
        outcome = await self.dispatch(update, staff, query.data, chat)
        message = query.message if isinstance(query.message, Message) else None
        # The answer pops up on the presser's screen; Telegram cuts it at 200 characters, so
        # a longer one comes as a message instead of being cut.
        fits = len(outcome.text) <= ANSWER_LIMIT or message is None
        see_below = "Nothing was done: see my message." if outcome.refused else "See my message."
        await query.answer(
            outcome.text[:ANSWER_LIMIT] if fits else see_below, show_alert=outcome.refused
        )
        if message is None:
            return
        if not outcome.refused and message.text:  # refused: nothing stored, nobody has it
            label = pressed_label(message, query.data)
            line = taken_line(label, staff.name, self.svc.clock.now(), self.svc.display_zone)
            pressed = f"\n{line}"
            await query.edit_message_text(message.text[: TEXT_LIMIT - len(pressed)] + pressed)
        if not fits:
            await self.sender.reply(message, outcome, chat)
        else:
            for reply in outcome.replies:
                if reply.buttons:
                    await message.reply_text(reply.text, reply_markup=keyboard(reply.buttons))
        await self.after()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update: it carries what people typed about children.
        log.error(
            "telegram handler failed: %s", type(context.error).__name__, exc_info=context.error
        )
