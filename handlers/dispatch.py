"""Typed commands in, replies out: the same words on every transport.

Transports resolve who is typing (a Staff record or None) and hand the raw text here; the
command registry (handlers/commands.py) says what runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers import plain_words
from handlers.arguments import Typed
from handlers.commands import ALIASES, BY_NAME
from handlers.context import Services, Step
from handlers.help_text import unknown_command
from handlers.messages import NOT_ENROLLED, Chat, Outcome, Refusal, Reply
from handlers.timeparse import AmbiguousTime, TimeParseError
from storage.models import (
    Button,
    Staff,
)
from storage.versioned import StaleWrite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parsed:
    name: str
    args: list[str]


def parse_command(text: str) -> Parsed | None:
    """'/absent@WhereaboutsBot Jay 21:05 ...' -> Parsed('absent', ['Jay', '21:05', ...])."""
    text = text.strip()
    if not text.startswith("/"):
        return None
    head, _, rest = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    return Parsed(ALIASES.get(name, name), rest.split())


class Dispatcher:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def handle(self, staff: Staff | None, text: str, chat: Chat | None = None) -> Outcome:
        if staff is None or not staff.active:  # someone who has left is nobody here
            return Outcome.say(NOT_ENROLLED)
        parsed = parse_command(text)
        if parsed is None:
            # plain words: a draft to confirm (nothing recorded), else their own commands
            return await plain_words.read(Step(self.svc, staff, self.svc.clock.now(), chat), text)
        command = BY_NAME.get(parsed.name)
        if command is None or command.handler is None:
            # nothing was done: a refusal (a scenario run --strict lists it)
            return Outcome.refuse(unknown_command(staff, parsed.name))
        step = Step(self.svc, staff, self.svc.clock.now(), chat)
        try:
            return await command.handler(step, Typed(parsed.name, parsed.args, command.usage))
        # Refused: nothing was stored, so a pressed button must not show as taken.
        except Refusal as refusal:
            return Outcome.refuse(refusal.message, refusal.field_code)
        except AmbiguousTime as error:
            return _which_time(parsed, error)
        except TimeParseError as error:
            return Outcome.refuse(f"{error} Nothing was saved.")
        except StaleWrite:
            return Outcome.refuse(
                "The episode changed while you were typing. Nothing was saved: try again."
            )
        except Exception:
            # The transaction rolled back; say so. No message text in the log: it may name a child.
            log.exception("command /%s failed", parsed.name)
            return Outcome.refuse(
                "Something went wrong and nothing was saved. Try again; if it keeps failing, "
                "phone the duty team and record it later."
            )


def _which_time(parsed: Parsed, error: AmbiguousTime) -> Outcome:
    """A time that could be two: nothing saved; each reading offered as the whole command."""
    typed = " ".join(parsed.args)
    commands = [
        (choice, f"/{parsed.name} {typed.replace(error.said, choice.typed, 1)}")
        for choice in error.choices
        if error.said and error.said in typed
    ]
    lines = [f"{error} Nothing was saved yet."]
    lines += [f"{choice.label}: {command}" for choice, command in commands]
    buttons = tuple(Button(choice.label, command) for choice, command in commands)
    return Outcome([Reply("\n".join(lines), buttons)], refused=True)
