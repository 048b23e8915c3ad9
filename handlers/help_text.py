"""/help by role, and the nearest commands to one nobody knows.

Both come from the registry (handlers/commands.py) and who may run what
(reminders/access.py and the groups the registry names): a carer's /help lists what a
carer does, `/help all` lists everything, and `/absnet` suggests `/absent` only to someone
who may report. Where the registry lets every enrolled person type a command whose own
check is narrower (the rota's covers and swaps, leavers and invites, duties), AUDIENCES
says whose help shows it first.
"""

from __future__ import annotations

import difflib

from config.role_words import said
from handlers.commands import BY_NAME, COMMANDS, HELP, HELP_LAYOUT, HELP_PLACE, placed, synopsis
from reminders.access import SERVICE_WIDE
from reminders.chat_scope import CHAT_LISTERS, SENIOR
from storage.models import Role, Staff

_MANAGERS = frozenset({Role.TEAM_MANAGER, Role.OUT_OF_HOURS_MANAGER}) | SENIOR
_ON_THE_ROTA = SERVICE_WIDE - SENIOR
_NOT_CARERS = frozenset(Role) - {Role.CARER}

# Commands anyone enrolled may type whose help belongs to fewer people (each command's
# own check still decides; this only orders /help).
AUDIENCES: dict[str, frozenset[Role]] = {
    "duties": _NOT_CARERS,
    "done": _NOT_CARERS,
    "na": _NOT_CARERS,
    "rota": _ON_THE_ROTA | _MANAGERS | {Role.ADMIN},
    "cover": _ON_THE_ROTA | _MANAGERS,
    "swap": _ON_THE_ROTA | _MANAGERS,
    "myshifts": _ON_THE_ROTA | _MANAGERS,
    "leaver": _MANAGERS | {Role.ADMIN},
    "invite": _MANAGERS | {Role.ADMIN},
    "unregister": CHAT_LISTERS,
    "record": _NOT_CARERS,  # what the daily summary reports: for those who write it up
    "notify": _NOT_CARERS,  # those the ladders alert (a carer's own /help stays short)
}

ALL_HEAD = "Whereabouts commands"  # HELP_LAYOUT's first line starts so
OWN_HEAD = "Your Whereabouts commands"  # "…, as a carer (a child is named …):"
MORE = "/help all lists every command, other roles' too."


def may_run(staff: Staff, name: str) -> bool:
    """Whether the registry lets ``staff``'s role run /name at all."""
    command = BY_NAME.get(name)
    return command is not None and staff.role in command.roles


def is_for(staff: Staff, name: str) -> bool:
    """Whether /name belongs in ``staff``'s own /help."""
    return may_run(staff, name) and staff.role in AUDIENCES.get(name, frozenset(Role))


def _own_line(line: str, staff: Staff) -> str | None:
    """A /help line with only ``staff``'s commands (None: none of them are)."""
    places = list(HELP_PLACE.finditer(line))
    if not places:
        return line
    kept = [p for p in places if is_for(staff, placed(p)[0].name)]
    if not kept:
        return None
    if len(kept) == len(places):
        return HELP_PLACE.sub(lambda p: synopsis(placed(p)[0].name, placed(p)[1]), line)
    # Some of the line's commands are others': the line keeps only this person's, with the
    # note after the last place kept only when every command it speaks of is theirs.
    return "   ".join(synopsis(placed(p)[0].name, placed(p)[1]) for p in kept)


def help_for(staff: Staff, everything: bool = False) -> str:
    """``staff``'s /help: their own commands (by role), or with ``everything`` all of them."""
    if everything:
        return HELP
    head, *body = HELP_LAYOUT.splitlines()
    role = said(staff.role)
    lines = [f"{OWN_HEAD}, as {_article(role)} {role}{head.removeprefix(ALL_HEAD)}"]
    kept_last = True
    for line in body:
        if line.startswith("   ") and not HELP_PLACE.search(line):
            if kept_last:  # a note under the command above it
                lines.append(line)
            continue
        own = _own_line(line, staff)
        kept_last = own is not None
        if own is not None:
            lines.append(own)
    lines.append(MORE)
    return "\n".join(lines)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def is_help(text: str) -> bool:
    """Whether a reply is a /help text (Slack adds its own note to it)."""
    return text == HELP or text.startswith(OWN_HEAD)


def unknown_command(staff: Staff, name: str) -> str:
    """'I don't know /absnet. Did you mean /absent?' (only commands ``staff`` may run)."""
    theirs = [
        word
        for command in COMMANDS
        if command.in_help and command.handler is not None and may_run(staff, command.name)
        for word in (command.name, *command.aliases)
    ]
    near = difflib.get_close_matches(name, theirs, n=3, cutoff=0.6)
    # An alias suggests its command once.
    names = list(dict.fromkeys(BY_NAME[w].name if w in BY_NAME else _alias(w) for w in near))
    if not names:
        return f"I don't know /{name}. Send /help for your commands."
    options = " or ".join(f"/{n}" for n in names)
    return f"I don't know /{name}. Did you mean {options}? Send /help for your commands."


def _alias(word: str) -> str:
    return next(c.name for c in COMMANDS if word in c.aliases)
