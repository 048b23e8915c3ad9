"""Telegram: the same conversation logic, through python-telegram-bot's real Application.

Only the platform lives here: parsing updates, keyboards, editing a pressed alert,
reply threads, rate limits and redaction. Every rule stays in handlers/ and reminders/;
every button is a typed command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter

# Opt in to PTB's future behaviour: RetryAfter.retry_after as a timedelta (no deprecation noise).
os.environ.setdefault("PTB_TIMEDELTA", "1")
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.delivery import PermanentDeliveryError, RetryLater
from bot.router import Unreachable
from bot.telegram_http import AiohttpRequest
from bot.telegram_inbox import DurableUpdateQueue, HandledMarks, PerPersonProcessor
from handlers import enrolment
from handlers.access import can_see, may
from handlers.context import Services
from handlers.dispatch import NOT_ENROLLED, Dispatcher
from handlers.messages import Chat, Outcome, recorded_before_restart, split_text
from handlers.timeparse import TimeParseError, parse_when
from reminders.formatting import PROFILE_HEADING, short_time
from storage import chats, child_store, inbox, reports, staff_store
from storage.models import Button, OutboxMessage, Staff

log = logging.getLogger(__name__)
# PTB logs whole updates and request parameters at DEBUG (what carers typed about children);
# httpx logs every request URL at INFO, and a Bot API URL holds the bot's token.
for _name, _level in (("telegram", logging.INFO), ("httpx", logging.WARNING),
                      ("httpcore", logging.WARNING)):  # fmt: skip
    logging.getLogger(_name).setLevel(_level)


NAME = "telegram"
ANSWER_LIMIT = 200  # a button press's pop-up answer (answerCallbackQuery)
TEXT_LIMIT = 4096  # Bot API: characters in one message
CAPTION_LIMIT = 1024  # and in a photo or document caption
CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
DELETE_WINDOW = timedelta(hours=48)  # bots may delete their messages for this long
NOT_SET_UP = (
    "Whereabouts isn't set up in this chat. An admin or manager can register it with "
    "/register <team>."
)

# Guided report states
CHILD, SEEN, SEEN_TYPED, WHERE, DONE, CONCERN = range(6)
GUIDED_TIMEOUT = 10 * 60


class PerChatRateLimiter(AIORateLimiter):
    """PTB's limiter (overall and per group) plus one message a second per chat."""

    def __init__(self, chat_rate: float = 1.0, chat_period: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chat_rate = chat_rate
        self._chat_period = chat_period
        self._chat_limiters: dict[str | int, AsyncLimiter] = {}

    async def process_request(  # type: ignore[override]
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
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        limiter = self._chat_limiters.setdefault(
            chat_id, AsyncLimiter(self._chat_rate, self._chat_period)
        )
        async with limiter:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Each button's callback data is its typed command (dropped if over Telegram's 64 bytes)."""
    usable = [b for b in buttons if len(b.command.encode()) <= CALLBACK_LIMIT]
    if not usable:
        return None
    rows = [usable[i : i + 2] for i in range(0, len(usable), 2)]
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.command) for b in row] for row in rows]
    )


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
    ) -> None:
        self.svc = svc
        self.dispatcher = Dispatcher(svc)
        self.after_command: Callable[[], Awaitable[object]] | None = None
        # Updates are stored before Telegram is told we have them and replayed after a crash;
        # people's updates run concurrently, each person's in order (see bot/telegram_inbox).
        self.queue = DurableUpdateQueue(svc.db, svc.clock, NAME)
        self.marks = HandledMarks(svc.db, svc.clock, NAME)
        self._applied_before: dict[int, datetime] = {}
        builder = (
            ApplicationBuilder()
            .token(token)
            .rate_limiter(rate_limiter or PerChatRateLimiter(max_retries=3))
            .update_queue(self.queue)
            .concurrent_updates(PerPersonProcessor(self._handled))
            .request(AiohttpRequest(read_timeout=read_timeout))
            # getUpdates confirms what it fetched before: only once that is on disk
            .get_updates_request(
                AiohttpRequest(connection_pool_size=1, before_each=self.queue.on_disk)
            )
        )
        if base_url:
            builder = builder.base_url(base_url).base_file_url(
                base_url.replace("/bot", "/file/bot")
            )
        self.app: Application = builder.build()
        self._add_handlers(guided_timeout)

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, webhook: dict[str, Any] | None = None) -> None:
        """Initialise (getMe: a rejected token raises InvalidToken here), then poll or listen."""
        await self.app.initialize()
        await inbox.prune(self.svc.db, self.svc.clock.now())
        await self.app.start()
        # Left unhandled by a crash: handled first, before anything new is fetched.
        await self.queue.replay(self.app.bot, self._applied_before)
        # A webhook's 200 goes back when `put` returns, so `put` waits for the disk; when
        # polling, the next getUpdates waits instead (bot/telegram_inbox.py).
        self.queue.wait_for_disk = bool(webhook)
        if webhook:
            await self.app.updater.start_webhook(**webhook)  # type: ignore[union-attr]
        else:
            await self.app.updater.start_polling(poll_interval=0, timeout=10)  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        try:
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        finally:
            await self.marks.flush()  # before the database closes

    # ---- incoming ----------------------------------------------------------------------

    def _add_handlers(self, guided_timeout: float) -> None:
        fresh = filters.UpdateType.MESSAGE  # edits never rewrite the timeline
        text = filters.TEXT & ~filters.COMMAND & fresh
        with warnings.catch_warnings():
            # per_message=False is deliberate: the report mixes typed answers and buttons.
            warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
            guided = self._guided_handler(fresh, text, guided_timeout)
        # Handlers block: an update counts as handled only when they have finished. The
        # processor runs different people at once, so one slow chat holds up nobody else.
        self.app.add_handler(TypeHandler(Update, self._replayed_after_crash), group=-1)
        self.app.add_handler(guided)
        self.app.add_handler(MessageHandler(filters.COMMAND & fresh, self._on_command))
        self.app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self._on_edited))
        self.app.add_handler(CallbackQueryHandler(self._on_button, pattern=r"^/"))
        self.app.add_error_handler(self._on_error)

    async def _handled(self, update: Update) -> None:
        self._applied_before.pop(update.update_id, None)
        self.marks.add(update.update_id)

    async def _replayed_after_crash(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """A replayed update whose command was stored before the crash: say so, don't redo it."""
        applied_at = self._applied_before.get(update.update_id)
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
                await self.app.bot.send_message(chat.id, text, reply_parameters=reply)
        except Exception as exc:  # noqa: BLE001 - the note is lost, but the command is not redone
            log.warning("replay note not sent: %s", type(exc).__name__)
        finally:
            raise ApplicationHandlerStop  # noqa: B012 - whatever happened, never run it again

    async def _dispatch(
        self, update: Update, staff: Staff | None, text: str, chat: Chat
    ) -> Outcome:
        """The command, with its write marking this update applied in the same transaction."""
        with inbox.applying(NAME, update.update_id, self.svc.clock.now()):
            return await self.dispatcher.handle(staff, text, chat)

    def _guided_handler(self, fresh: Any, text: Any, guided_timeout: float) -> ConversationHandler:
        return ConversationHandler(
            entry_points=[CommandHandler("absent", self._guided_start, filters=fresh)],
            states={
                CHILD: [CallbackQueryHandler(self._guided_child, pattern=r"^g:child:")],
                SEEN: [CallbackQueryHandler(self._guided_seen, pattern=r"^g:seen:")],
                SEEN_TYPED: [MessageHandler(text, self._guided_seen_typed)],
                WHERE: [MessageHandler(text, self._guided_where)],
                DONE: [MessageHandler(text, self._guided_done)],
                CONCERN: [CallbackQueryHandler(self._guided_concern, pattern=r"^g:concern:")],
                ConversationHandler.TIMEOUT: [
                    MessageHandler(filters.ALL, self._guided_timed_out),
                    CallbackQueryHandler(self._guided_timed_out),
                ],
            },
            fallbacks=[
                CallbackQueryHandler(self._guided_cancel, pattern=r"^g:cancel$"),
                CommandHandler("cancel", self._guided_cancel),
                MessageHandler(filters.COMMAND & fresh, self._guided_interrupted),
            ],
            conversation_timeout=guided_timeout,
            per_message=False,
        )

    async def _who(self, update: Update) -> Staff | None:
        user = update.effective_user
        if user is None:
            return None
        return await staff_store.staff_by_identity(self.svc.db, NAME, str(user.id))

    async def _chat(self, update: Update) -> Chat:
        chat = update.effective_chat
        assert chat is not None
        is_group = chat.type != "private"
        team = await chats.team_of_chat(self.svc.db, NAME, str(chat.id)) if is_group else None
        return Chat(NAME, str(chat.id), is_group, team)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        staff = await self._who(update)
        chat = await self._chat(update)
        command = message.text.split()[0].split("@")[0].lower()
        with inbox.applying(NAME, update.update_id, self.svc.clock.now()):
            if command == "/start" and not chat.is_group:
                await self._start(message, staff, message.text)
                return
            if command == "/register":
                await self._register(message, staff, chat)
                return
        if chat.is_group and chat.team is None:
            await message.reply_text(NOT_SET_UP)
            return
        outcome = await self._dispatch(update, staff, message.text, chat)
        await self._reply(message, outcome, chat)
        await self._after()

    async def _start(self, message: Message, staff: Staff | None, text: str) -> None:
        parts = text.split(maxsplit=1)
        if len(parts) == 2:
            user = message.from_user
            assert user is not None
            enrolled = await enrolment.redeem(self.svc, NAME, str(user.id), parts[1])
            if enrolled is None:
                await message.reply_text(enrolment.REFUSED)
                return
            where = enrolled.home or enrolled.team or "the service"
            await message.reply_text(
                f"Welcome, {enrolled.name}. You're enrolled as {enrolled.role.value.replace('_', ' ')}"
                f" ({where}). Send /help for the commands, or /absent to report a child missing."
            )
            return
        await message.reply_text(NOT_ENROLLED if staff is None else "You're enrolled. Send /help.")

    async def _register(self, message: Message, staff: Staff | None, chat: Chat) -> None:
        if staff is None:
            await message.reply_text(NOT_ENROLLED)
            return
        if not chat.is_group:
            await message.reply_text("Send /register <team> inside the team's group chat.")
            return
        team = " ".join(message.text.split()[1:]) if message.text else ""
        await message.reply_text(
            await enrolment.register_chat(self.svc, staff, NAME, chat.chat_id, team)
        )

    async def _on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        if message and message.text and message.text.startswith("/"):
            await message.reply_text(
                "Edits don't change the record: the timeline keeps what was sent. "
                "Send a new /update to correct it."
            )

    async def _reply(self, message: Message, outcome: Outcome, chat: Chat) -> None:
        for reply in outcome.replies:
            # Over Telegram's limit: several messages, cut at line ends; buttons on the last.
            *head, last = split_text(reply.text, TEXT_LIMIT)
            if reply.private and chat.is_group and message.from_user is not None:
                for part in head:
                    await self.app.bot.send_message(message.from_user.id, part)
                await self.app.bot.send_message(
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
                    await chats.record_sent(
                        self.svc.db,
                        outbox_id=None,
                        episode_id=episode_id,
                        transport=NAME,
                        chat_id=chat.chat_id,
                        message_id=str(sent.message_id),
                        kind="group",
                        now=self.svc.clock.now(),
                    )

    async def _after(self) -> None:
        if self.after_command is not None:
            await self.after_command()

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An alert's button: the same as typing its command; the message then shows who."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        staff = await self._who(update)
        if staff is None:
            await query.answer(NOT_ENROLLED, show_alert=True)
            return
        chat = await self._chat(update)
        outcome = await self._dispatch(update, staff, query.data, chat)
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
            label = _pressed_label(message, query.data)
            stamp = short_time(self.svc.clock.now(), self.svc.display_zone)
            pressed = f"\n✔ {label}: {staff.name}, {stamp}"
            await query.edit_message_text(message.text[: TEXT_LIMIT - len(pressed)] + pressed)
        if not fits:
            await self._reply(message, outcome, chat)
        else:
            for reply in outcome.replies:
                if reply.buttons:
                    await message.reply_text(reply.text, reply_markup=keyboard(reply.buttons))
        await self._after()

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update: it carries what people typed about children.
        log.error(
            "telegram handler failed: %s", type(context.error).__name__, exc_info=context.error
        )

    # ---- guided report (/absent with nothing after it) --------------------------------

    async def _guided_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        assert message is not None
        chat = await self._chat(update)
        if chat.is_group and chat.team is None:
            await message.reply_text(NOT_SET_UP)
            return ConversationHandler.END
        staff = await self._who(update)
        if context.args or staff is None:
            # typed in full (or a stranger): the ordinary command path
            outcome = await self._dispatch(update, staff, message.text or "", chat)
            await self._reply(message, outcome, chat)
            await self._after()
            return ConversationHandler.END
        children = [
            c for c in await child_store.list_children(self.svc.db) if may(staff, "report", c)
        ]
        if not children:
            await message.reply_text("There are no children you can report. Ask your manager.")
            return ConversationHandler.END
        assert context.user_data is not None
        context.user_data["guided"] = {}
        buttons = [Button(c.label, f"g:child:{c.ref}") for c in children[:20]]
        await message.reply_text(
            "Report a child absent. Who is it?", reply_markup=_with_cancel(buttons)
        )
        return CHILD

    async def _guided_child(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        assert query is not None and query.data is not None and context.user_data is not None
        await query.answer()
        ref = query.data.removeprefix("g:child:")
        child = await child_store.get_child_by_ref(self.svc.db, ref)
        staff = await self._who(update)
        if child is None or staff is None or not can_see(staff, child):
            await query.edit_message_text("I can't find that child among yours. Nothing was saved.")
            return ConversationHandler.END
        context.user_data["guided"]["ref"] = child.ref
        options = [
            Button("Just now", "g:seen:now"),
            Button("30 min ago", "g:seen:30 min ago"),
            Button("1 h ago", "g:seen:1h ago"),
            Button("Type a time", "g:seen:typed"),
        ]
        await query.edit_message_text(
            f"{child.label}: when were they last seen?", reply_markup=_with_cancel(options)
        )
        return SEEN

    async def _guided_seen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        assert query is not None and query.data is not None and context.user_data is not None
        await query.answer()
        choice = query.data.removeprefix("g:seen:")
        if choice == "typed":
            await query.edit_message_text(
                "Type the time last seen: 21:10, 20 min ago, yesterday 23:15 … (or /cancel)"
            )
            return SEEN_TYPED
        return await self._guided_store_time(update, context, choice, query.edit_message_text)

    async def _guided_seen_typed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        assert message is not None and message.text is not None
        return await self._guided_store_time(update, context, message.text, message.reply_text)

    async def _guided_store_time(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        said: str,
        answer: Callable[..., Awaitable[Any]],
    ) -> int:
        assert context.user_data is not None
        state = context.user_data["guided"]
        child = await child_store.get_child_by_ref(self.svc.db, state["ref"])
        assert child is not None
        try:
            when = parse_when(said, self.svc.clock.now(), self.svc.preset_for(child).zone)
        except TimeParseError as error:
            await answer(f"{error} Try again, or /cancel.")
            return SEEN_TYPED
        state["seen"] = when.isoformat()
        await answer("Where were they last seen, and what happened? (or /cancel)")
        return WHERE

    async def _guided_where(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        assert message is not None and context.user_data is not None
        context.user_data["guided"]["where"] = (message.text or "").strip()
        await message.reply_text(
            "What have you done so far? (searched, called, visited … or /cancel)"
        )
        return DONE

    async def _guided_done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        assert message is not None and context.user_data is not None
        context.user_data["guided"]["done"] = (message.text or "").strip()
        levels = [
            Button("No intervention", "g:concern:none"),
            Button("Carer intervention", "g:concern:carer"),
            Button("Police intervention", "g:concern:police"),
        ]
        await message.reply_text("Your level of concern?", reply_markup=_with_cancel(levels))
        return CONCERN

    async def _guided_concern(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        assert query is not None and query.data is not None and context.user_data is not None
        await query.answer()
        state = context.user_data.pop("guided")
        level = query.data.removeprefix("g:concern:")
        # The guided report becomes the typed command, so both paths are one rule.
        command = (
            f"/absent {state['ref']} {state['seen']} {state['where']}; "
            f"done so far: {state['done']} concern {level}"
        )
        outcome = await self._dispatch(
            update, await self._who(update), command, await self._chat(update)
        )
        await query.edit_message_text(outcome.text)
        await self._after()
        return ConversationHandler.END

    async def _guided_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        if context.user_data is not None:
            context.user_data.pop("guided", None)
        text = "Cancelled. Nothing was saved."
        if update.callback_query:
            await update.callback_query.answer()
            await update.callback_query.edit_message_text(text)
        elif update.effective_message:
            await update.effective_message.reply_text(text)
        return ConversationHandler.END

    async def _guided_interrupted(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        """Another command mid-report: drop the report (saying so) and do the command."""
        if context.user_data is not None:
            context.user_data.pop("guided", None)
        message = update.effective_message
        if message is not None:
            await message.reply_text("The guided report was stopped; nothing was saved from it.")
        await self._on_command(update, context)
        return ConversationHandler.END

    async def _guided_timed_out(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.user_data is not None:
            context.user_data.pop("guided", None)
        if update.effective_chat is not None:
            await context.bot.send_message(
                update.effective_chat.id,
                "The report timed out and nothing was saved. Start again with /absent.",
            )

    # ---- outgoing (the outbox calls these) ------------------------------------------

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        kind = "profile" if PROFILE_HEADING in message.text else "direct"
        sent = await self._send(int(external_id), message, None)
        await self._record(message, external_id, sent, kind)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        root = None
        if message.episode_id is not None:
            root = await chats.thread_root(self.svc.db, message.episode_id, NAME, chat_id)
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
                await self.app.bot.send_message(chat_id, part, reply_parameters=reply)
            return await self.app.bot.send_message(
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
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Unreachable("Telegram chat not found") from exc
            raise

    async def _send_file(
        self, chat_id: int, message: OutboxMessage, reply: ReplyParameters | None
    ) -> Message:
        assert message.attachment_id is not None
        attachment = await reports.get_attachment(self.svc.db, message.attachment_id)
        if attachment is None:
            raise PermanentDeliveryError("the attached file is no longer stored")
        upload = InputFile(attachment.data, filename=attachment.filename)
        caption = message.text[:CAPTION_LIMIT]
        if attachment.mime.startswith("image/"):
            return await self.app.bot.send_photo(
                chat_id, upload, caption=caption, reply_parameters=reply
            )
        return await self.app.bot.send_document(
            chat_id, upload, caption=caption, reply_parameters=reply
        )

    async def _record(self, message: OutboxMessage, chat_id: str, sent: Message, kind: str) -> None:
        await chats.record_sent(
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
        for copy in await chats.unredacted(self.svc.db, message.episode_id, NAME):
            try:
                if copy.kind == "profile" and now - copy.sent_at < DELETE_WINDOW:
                    await self.app.bot.delete_message(int(copy.chat_id), int(copy.message_id))
                elif copy.kind in ("profile", "group"):
                    await self.app.bot.edit_message_text(
                        closing, chat_id=int(copy.chat_id), message_id=int(copy.message_id)
                    )
                else:
                    continue  # direct alerts name the child by reference only: they stay
            except RetryAfter as exc:
                raise RetryLater(_seconds(exc.retry_after)) from exc
            except BadRequest:
                pass  # already gone or too old to touch: nothing more the bot can do
            async with self.svc.db.write() as tx:
                await chats.mark_redacted(tx, copy.id, now)


def _with_cancel(buttons: list[Button]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(b.label, callback_data=b.command)] for b in buttons]
    rows.append([InlineKeyboardButton("Cancel", callback_data="g:cancel")])
    return InlineKeyboardMarkup(rows)


def _pressed_label(message: Message, data: str) -> str:
    markup = message.reply_markup
    if markup is not None:
        for row in markup.inline_keyboard:
            for button in row:
                if button.callback_data == data:
                    return button.text
    return data


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
