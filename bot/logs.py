"""Log levels: the one the operator chose, and the loggers that stay quiet whatever it is."""

from __future__ import annotations

import logging

# Libraries whose chatty levels would log what people typed about children, or the bot's token.
QUIET = {
    "aiosqlite": logging.INFO,  # every statement, with its parameters, at DEBUG
    "telegram": logging.INFO,  # PTB: whole updates and request parameters at DEBUG
    "httpx": logging.WARNING,  # every request URL at INFO, and a Bot API URL holds the token
    "httpcore": logging.WARNING,
}


# PTB logs a whole update (what someone typed about a child) when one fails to parse:
# "Error while parsing updates! Received data was {…}". These loggers keep only the words.
PTB_PARSE_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Updater")


class NoReceivedData(logging.Filter):
    """A record that would carry an update keeps its first words and the error's kind only:
    no arguments, and no traceback (an exception's text may quote a field's value)."""

    MARK = "Received data was"

    def filter(self, record: logging.LogRecord) -> bool:
        if self.MARK not in str(record.msg):
            return True
        kind = record.exc_info[1].__class__.__name__ if record.exc_info else ""
        words = str(record.msg).split(self.MARK, 1)[0].rstrip(" .!")
        record.msg = f"{words} ({kind}); the update is not logged" if kind else words
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def keep_quiet() -> None:
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    for name in PTB_PARSE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, NoReceivedData) for f in logger.filters):
            logger.addFilter(NoReceivedData())


def set_level(level: str | int) -> None:
    """The root logger's level (WHEREABOUTS_LOG_LEVEL); the quiet ones stay quiet."""
    logging.getLogger().setLevel(level)
    keep_quiet()
