"""Where a typed command goes before the dispatcher: the same order on every transport.

Enrolment and registration come first (a stranger and an unregistered chat must reach
them); an unregistered group chat hears only that it isn't set up; /absent on its own from
someone enrolled starts the guided report; everything else is the dispatcher's.
"""

from __future__ import annotations

from enum import StrEnum

from handlers.commands import BY_NAME
from handlers.messages import Chat
from storage.models import Staff


class Route(StrEnum):
    ENROL = "enrol"  # /start <code>: handlers.enrolment.start
    REGISTER = "register"  # /register <team> [confirm]: handlers.chat_registration.register
    NOT_SET_UP = "not_set_up"  # a group chat no team has registered
    GUIDED_REPORT = "guided_report"  # /absent alone: handlers.guided_report
    COMMAND = "command"  # handlers.dispatch.Dispatcher


def route(
    name: str, args: str, staff: Staff | None, chat: Chat, *, enrol_in_groups: bool = True
) -> Route:
    """`name` is the command without its slash; `enrol_in_groups`: /start typed in a group
    chat enrols (else it is an ordinary command there)."""
    if name == "start" and (enrol_in_groups or not chat.is_group):
        return Route.ENROL
    if name == "register":
        return Route.REGISTER
    if chat.is_group and chat.team is None:
        return Route.NOT_SET_UP
    command = BY_NAME.get(name)
    if command is not None and command.guided and not args.strip() and staff is not None:
        return Route.GUIDED_REPORT
    return Route.COMMAND
