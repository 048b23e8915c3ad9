"""The guided report on Telegram (/absent with nothing after it): a PTB conversation.

The questions, choices and checks are handlers/guided_report.py's; here they become
messages with inline keyboards, answers arrive as presses (`g:<field>:<answer>`) or typed
text, and the pressed message is edited to ask the next question.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.telegram.keyboards import CANCEL, GUIDED, guided_choices
from bot.telegram.listeners import NOT_SET_UP, Listeners
from handlers import guided_report as report
from handlers.guided_report import Ask, Draft, ReportField
from handlers.intake import Route, route

GUIDED_TIMEOUT = 10 * 60
CHILDREN_SHOWN = 20  # buttons in the first question

# The conversation's states: the field each is waiting for, and whether it is typed.
CHILD, SEEN, SEEN_TYPED, WHERE, DONE, CONCERN = range(6)
STATES = {
    (ReportField.CHILD, False): CHILD,
    (ReportField.SEEN, False): SEEN,
    (ReportField.SEEN, True): SEEN_TYPED,
    (ReportField.WHERE, True): WHERE,
    (ReportField.DONE, True): DONE,
    (ReportField.CONCERN, False): CONCERN,
}
END: int = ConversationHandler.END
Context = ContextTypes.DEFAULT_TYPE
Answer = Callable[..., Awaitable[Any]]


class GuidedReport:
    def __init__(self, listeners: Listeners) -> None:
        self.listeners = listeners
        self.svc = listeners.svc

    def handler(self, guided_timeout: float) -> ConversationHandler[Any]:
        fresh = filters.UpdateType.MESSAGE  # edits never rewrite the timeline
        text = filters.TEXT & ~filters.COMMAND & fresh
        states: dict[object, list[BaseHandler[Update, Any, Any]]] = {
            CHILD: [self._press(ReportField.CHILD, self._child)],
            SEEN: [self._press(ReportField.SEEN, self._seen)],
            SEEN_TYPED: [MessageHandler(text, self._seen_typed)],
            WHERE: [MessageHandler(text, self._where)],
            DONE: [MessageHandler(text, self._done)],
            CONCERN: [self._press(ReportField.CONCERN, self._concern)],
            ConversationHandler.TIMEOUT: [
                MessageHandler(filters.ALL, self._timed_out),
                CallbackQueryHandler(self._timed_out),
            ],
        }
        with warnings.catch_warnings():
            # per_message=False is deliberate: the report mixes typed answers and buttons.
            warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
            return ConversationHandler(
                entry_points=[CommandHandler("absent", self._start, filters=fresh)],
                states=states,
                fallbacks=[
                    CallbackQueryHandler(self._cancel, pattern=f"^{CANCEL}$"),
                    CommandHandler("cancel", self._cancel),
                    MessageHandler(filters.COMMAND & fresh, self._interrupted),
                ],
                conversation_timeout=guided_timeout,
                per_message=False,
            )

    @staticmethod
    def _press(
        field: ReportField, callback: Callable[[Update, Context, str], Awaitable[int]]
    ) -> CallbackQueryHandler[Any, Any]:
        """A press on one of `field`'s choices: `callback` gets the answer it stands for."""
        prefix = f"{GUIDED}{field}:"

        async def pressed(update: Update, context: Context) -> int:
            query = update.callback_query
            assert query is not None and query.data is not None
            await query.answer()
            return await callback(update, context, query.data.removeprefix(prefix))

        return CallbackQueryHandler(pressed, pattern=f"^{prefix}")

    async def _start(self, update: Update, context: Context) -> int:
        message = update.effective_message
        assert message is not None
        chat = await self.listeners.chat(update)
        staff = await self.listeners.who(update)
        way = route("absent", " ".join(context.args or ()), staff, chat)
        if way is Route.NOT_SET_UP:
            await message.reply_text(NOT_SET_UP)
            return END
        if way is not Route.GUIDED_REPORT or staff is None:
            # typed in full (or a stranger): the ordinary command path
            outcome = await self.listeners.dispatch(update, staff, message.text or "", chat)
            await self.listeners.sender.reply(message, outcome, chat)
            await self.listeners.after()
            return END
        ask = await report.begin(self.svc, staff, CHILDREN_SHOWN, chat)
        if ask.next is not None:
            assert context.user_data is not None
            context.user_data["guided"] = Draft()
        return await _say(ask, message.reply_text)

    async def _child(self, update: Update, context: Context, ref: str) -> int:
        staff = await self.listeners.who(update)
        chat = await self.listeners.chat(update)
        ask = await report.choose_child(self.svc, staff, _draft(context), ref, chat)
        return await _say(ask, _edit(update))

    async def _seen(self, update: Update, context: Context, choice: str) -> int:
        ask = await report.choose_seen(self.svc, _draft(context), choice)
        return await _say(ask, _edit(update))

    async def _seen_typed(self, update: Update, context: Context) -> int:
        message = update.effective_message
        assert message is not None and message.text is not None
        ask = await report.answer_seen(self.svc, _draft(context), message.text)
        return await _say(ask, message.reply_text)

    async def _where(self, update: Update, context: Context) -> int:
        message = update.effective_message
        assert message is not None
        ask = report.answer_where(_draft(context), message.text or "")
        return await _say(ask, message.reply_text)

    async def _done(self, update: Update, context: Context) -> int:
        message = update.effective_message
        assert message is not None
        ask = report.answer_done(_draft(context), message.text or "")
        return await _say(ask, message.reply_text)

    async def _concern(self, update: Update, context: Context, level: str) -> int:
        command = report.answer_concern(_draft(context), level)
        _drop(context)
        listeners = self.listeners
        outcome = await listeners.dispatch(
            update, await listeners.who(update), command, await listeners.chat(update)
        )
        await _edit(update)(outcome.text)
        await listeners.after()
        return END

    async def _cancel(self, update: Update, context: Context) -> int:
        _drop(context)
        if update.callback_query:
            await update.callback_query.answer()
            await update.callback_query.edit_message_text(report.CANCELLED)
        elif update.effective_message:
            await update.effective_message.reply_text(report.CANCELLED)
        return END

    async def _interrupted(self, update: Update, context: Context) -> int:
        """Another command mid-report: drop the report (saying so) and do the command."""
        _drop(context)
        message = update.effective_message
        if message is not None:
            await message.reply_text(report.STOPPED)
        await self.listeners.on_command(update, context)
        return END

    async def _timed_out(self, update: Update, context: Context) -> None:
        _drop(context)
        if update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, report.TIMED_OUT)


async def _say(ask: Ask, answer: Answer) -> int:
    """Ask the next question (with its choices as buttons); the state that waits for it."""
    if ask.next is None or ask.typed:
        await answer(ask.text)
    else:
        await answer(ask.text, reply_markup=guided_choices(ask.next, ask.choices))
    return END if ask.next is None else STATES[(ask.next, ask.typed)]


def _edit(update: Update) -> Answer:
    query = update.callback_query
    assert query is not None
    return query.edit_message_text


def _draft(context: Context) -> Draft:
    assert context.user_data is not None
    draft = context.user_data["guided"]
    assert isinstance(draft, Draft)
    return draft


def _drop(context: Context) -> None:
    if context.user_data is not None:
        context.user_data.pop("guided", None)
