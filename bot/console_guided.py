"""The guided report in the console (/absent with nothing after it): one question at a time.

The questions, choices and checks are handlers/guided_report.py's, as on Telegram; where
Telegram shows buttons the console lists each choice with what to type (its number or its
answer), and every answer is typed. /cancel drops the report; another command drops it,
saying so, and runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import guided_report as report
from handlers.context import Services
from handlers.guided_report import Ask, Draft, ReportField
from storage.models import Button, Staff

CHILDREN_SHOWN = 20  # as many as Telegram shows
TYPE_TIME_HINT = "or type the time: 21:10, half ten, 20 min ago, yesterday 23:15 …"
CANCEL_HINT = "(/cancel to stop)"


@dataclass
class _Talk:
    draft: Draft
    ask: Ask  # the question waiting for its answer


@dataclass(frozen=True)
class Step:
    """What the console does with a line typed during a report."""

    text: str = ""  # the bot's words (a question with its choices, or the last word)
    command: str = ""  # the finished report as its /absent command, for the dispatcher


def choices_text(choices: tuple[Button, ...]) -> list[str]:
    """Choices as lines to type: '1. C-0042 Jay: type 1 or C-0042'."""
    shown = [c for c in choices if c.command != report.TYPE_A_TIME.command]
    return [f"{n}. {c.label}: type {n} or {c.command}" for n, c in enumerate(shown, start=1)]


def ask_text(ask: Ask) -> str:
    lines = [ask.text]
    if ask.next is not None and not ask.typed:
        lines += choices_text(ask.choices)
        if ask.next is ReportField.SEEN:
            lines.append(TYPE_TIME_HINT)
    if ask.next is not None and "/cancel" not in ask.text:
        lines.append(CANCEL_HINT)
    return "\n".join(lines)


def _chosen(ask: Ask, said: str) -> str | None:
    """The answer a typed line picks among the question's choices (by number, answer or label)."""
    shown = [c for c in ask.choices if c.command != report.TYPE_A_TIME.command]
    word = said.strip().lower()
    if word.isdigit() and 1 <= int(word) <= len(shown):
        return shown[int(word) - 1].command
    for choice in shown:
        if word in (choice.command.lower(), choice.label.lower()):
            return choice.command
    return None


class ConsoleGuided:
    """The reports under way, one per person typing."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._talks: dict[str, _Talk] = {}

    def under_way(self, staff_id: str) -> bool:
        return staff_id in self._talks

    def drop(self, staff_id: str) -> None:
        self._talks.pop(staff_id, None)

    async def begin(self, staff: Staff) -> Step:
        ask = await report.begin(self.svc, staff, CHILDREN_SHOWN)
        if ask.next is not None:
            self._talks[staff.id] = _Talk(Draft(), ask)
        return Step(ask_text(ask))

    async def answer(self, staff: Staff, said: str) -> Step:
        talk = self._talks[staff.id]
        ask, draft = talk.ask, talk.draft
        chosen = _chosen(ask, said) if ask.choices else None
        field = ask.next
        if field is ReportField.CHILD:
            ref = chosen or said.strip().upper()
            following = await report.choose_child(self.svc, staff, draft, ref)
        elif field is ReportField.SEEN and not ask.typed and chosen is not None:
            following = await report.choose_seen(self.svc, draft, chosen)
        elif field is ReportField.SEEN:
            following = await report.answer_seen(self.svc, draft, said)
        elif field is ReportField.WHERE:
            following = report.answer_where(draft, said)
        elif field is ReportField.DONE:
            following = report.answer_done(draft, said)
        else:  # the level of concern: the last answer
            if chosen is None:
                return Step("Choose one:\n" + "\n".join(choices_text(ask.choices)))
            self.drop(staff.id)
            return Step(command=report.answer_concern(draft, chosen))
        if following.next is None:
            self.drop(staff.id)
        else:
            talk.ask = following
        return Step(ask_text(following))
