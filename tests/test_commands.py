"""The command registry is the one list: /help, the dispatcher, README and access agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.commands import (
    ANYONE,
    BY_NAME,
    CHAT_LISTERS_GROUP,
    CHAT_REGISTRARS,
    COMMANDS,
    DUTY_HOLDERS,
    ENROLLED,
    HELP,
    HELP_LAYOUT,
    HELP_PLACE,
    MANAGERS_VIEW,
    placed,
)
from handlers.dispatch import Dispatcher, parse_command
from reminders.access import ACTIONS
from storage import staff_store

README = Path(__file__).resolve().parents[1] / "README.md"
README_LEAD = "The commands are the same on every transport:"


def readme_commands() -> set[tuple[str, str]]:
    """(name, arguments) of every command in the README's list. Entries are set apart by two
    spaces or more; '/abduction /harm /media <child> <details>' share their arguments."""
    text = README.read_text(encoding="utf-8")
    block = text.split(README_LEAD, 1)[1].lstrip("\n").split("\n\n", 1)[0]
    found: set[tuple[str, str]] = set()
    for line in block.splitlines():
        assert line.startswith("    "), f"the command list is one indented block: {line!r}"
        for entry in re.split(r"\s{2,}", line.strip()):
            if not entry.startswith("/"):
                continue  # what the command does
            names: list[str] = []
            words = entry.split(" ")
            while words and re.fullmatch(r"/[a-z]+", words[0]):
                names.append(words.pop(0)[1:])
            found |= {(name, " ".join(words)) for name in names}
    return found


def registry_forms(*, help_only: bool = False) -> set[tuple[str, str]]:
    return {
        (c.name, form)
        for c in COMMANDS
        if c.listed and (c.in_help or not help_only)
        for form in c.forms
    }


def test_the_readme_lists_every_listed_command_with_its_arguments_and_no_other():
    listed = readme_commands()
    assert listed == registry_forms(), (
        f"in the registry, not the README: {registry_forms() - listed}; "
        f"in the README, not the registry: {listed - registry_forms()}"
    )


def test_help_shows_every_command_meant_for_it_once():
    places = [placed(match) for match in HELP_PLACE.finditer(HELP_LAYOUT)]
    shown = [(command.name, args) for command, args in places]
    assert len(shown) == len(set(shown)), "a command placed twice in /help"
    assert set(shown) == registry_forms(help_only=True)
    assert "{" not in HELP and "}" not in HELP
    for command in COMMANDS:
        if not command.in_help:
            assert f"/{command.name}" not in HELP, command.name


def test_every_command_says_who_may_use_it():
    groups = {ANYONE, ENROLLED, DUTY_HOLDERS, MANAGERS_VIEW, CHAT_REGISTRARS, CHAT_LISTERS_GROUP}
    for command in COMMANDS:
        assert command.may in ACTIONS or command.may in groups, command.name
        assert command.roles, command.name


def test_names_and_aliases_are_unique_and_parse_to_their_command():
    names = [c.name for c in COMMANDS] + [a for c in COMMANDS for a in c.aliases]
    assert len(names) == len(set(names))
    for command in COMMANDS:
        for word in (command.name, *command.aliases):
            parsed = parse_command(f"/{word}@WhereaboutsBot x")
            assert parsed is not None and parsed.name == command.name


async def test_every_command_with_a_handler_is_dispatched(chat):
    for command in COMMANDS:
        reply = await chat.say("tom", f"/{command.name}")
        known = "I don't know" not in reply
        assert known == (command.handler is not None), command.name


# Words that reach each command's access check for Jay (C-0042), Friday night.
REACHING_THE_CHECK = {
    "absent": "Jay 21:05 out", "away": "Jay at his gran's", "update": "Jay rang",
    "concern": "Jay police", "police": "Jay ref P1 grade high", "found": "Jay 21:08 self home",
    "rhi": "Jay offered by Priya", "finalise": "Jay", "ack": "Jay", "callme": "Jay",
    "handover": "Jay priya", "escalate": "Jay", "disagree": "Jay they said wait",
    "letter": "Jay", "notice": "Jay home", "abduction": "Jay x", "harm": "Jay x", "media": "Jay x",
    "record": "Jay next x", "staff": "",
}  # fmt: skip


@pytest.mark.parametrize(
    "name", [c.name for c in COMMANDS if c.may in ACTIONS and c.may != "profile"]
)
async def test_a_role_the_registry_leaves_out_is_refused(svc, name):
    """The IRO sees Jay but may only view: every command naming another action refuses them."""
    assert BY_NAME[name].may != "view"
    iro = await staff_store.get_staff(svc.db, "iro1")
    assert iro is not None and iro.role not in BY_NAME[name].roles
    outcome = await Dispatcher(svc).handle(iro, f"/{name} {REACHING_THE_CHECK[name]}")
    text = outcome.text
    assert outcome.refused, (name, text)
    assert "Your role (iro) can't do that" in text or (
        name == "letter" and "Only the child's social worker" in text
    ), (name, text)


async def test_the_managers_view_is_refused_to_a_carer(svc):
    sam = await staff_store.get_staff(svc.db, "sam")
    assert sam is not None
    for command in COMMANDS:
        if command.may == MANAGERS_VIEW:
            assert sam.role not in command.roles
            outcome = await Dispatcher(svc).handle(sam, f"/{command.name} daily")
            assert "Summaries are for social workers" in outcome.text, command.name
