"""Telegram's inline keyboards: a button's callback data is its typed command.

The guided report's buttons carry `g:<field>:<answer>` instead (its conversation reads them),
and a pressed alert's label is read back from the keyboard it was pressed on.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from storage.models import Button

CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
GUIDED = "g:"  # callback data of the guided report's buttons
CANCEL = f"{GUIDED}cancel"


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Each button's callback data is its typed command (dropped if over Telegram's 64 bytes)."""
    usable = [b for b in buttons if len(b.command.encode()) <= CALLBACK_LIMIT]
    if not usable:
        return None
    rows = [usable[i : i + 2] for i in range(0, len(usable), 2)]
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.command) for b in row] for row in rows]
    )


def guided_choices(field: str, choices: tuple[Button, ...]) -> InlineKeyboardMarkup:
    """One guided-report answer a row (`g:<field>:<answer>`), and Cancel."""
    rows = [
        [InlineKeyboardButton(b.label, callback_data=f"{GUIDED}{field}:{b.command}")]
        for b in choices
    ]
    rows.append([InlineKeyboardButton("Cancel", callback_data=CANCEL)])
    return InlineKeyboardMarkup(rows)


def pressed_label(message: Message, data: str) -> str:
    """The label of the button whose callback data is `data` (never the data itself: a
    press's data is whatever the client sent)."""
    markup = message.reply_markup
    if markup is not None:
        for row in markup.inline_keyboard:
            for button in row:
                if button.callback_data == data:
                    return button.text
    return "a button"


def issued(message: Message, data: str) -> bool:
    """True if `data` is a button on the message as Telegram holds it: the keyboard the bot
    sent (a client can send any callback data; the message comes from Telegram's servers)."""
    markup = message.reply_markup
    return markup is not None and any(
        button.callback_data == data for row in markup.inline_keyboard for button in row
    )
