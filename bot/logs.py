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


def keep_quiet() -> None:
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)


def set_level(level: str | int) -> None:
    """The root logger's level (WHEREABOUTS_LOG_LEVEL); the quiet ones stay quiet."""
    logging.getLogger().setLevel(level)
    keep_quiet()
