"""The guided report: one definition of its steps, fields, choices and checks for every transport.

A conversation (Telegram: one question at a time, with buttons) and a form (Slack: all the
questions at once) ask the same questions, read the answers with the same checks and end in
the same typed /absent command, so a guided report and a typed one are one rule. A check
that fails names the field it is about by its code (`ReportField`); so does a refusal of the
finished report (`Outcome.field_code`), and a form shows it against that field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from handlers.context import Services
from handlers.messages import Chat
from handlers.timeparse import TimeParseError, parse_when
from handlers.views import shown_in_chat
from reminders.access import can_see, may
from storage import child_store
from storage.models import Button, Child, Concern, Staff

NO_CHILDREN = "There are no children you can report. Ask your manager."


class ReportField(StrEnum):
    """The report's fields, in the order they are asked."""

    CHILD = "child"
    SEEN = "seen"
    WHERE = "where"
    DONE = "done"
    CONCERN = "concern"


@dataclass(frozen=True)
class Question:
    label: str  # as a form shows it
    prompt: str  # as a conversation asks it; {child} is the child's label
    hint: str = ""  # example answers


QUESTIONS = {
    ReportField.CHILD: Question("Who is it?", "Report a child absent. Who is it?"),
    ReportField.SEEN: Question(
        "When were they last seen?",
        "{child}: when were they last seen?",
        "21:10, 20 min ago, yesterday 23:15",
    ),
    ReportField.WHERE: Question(
        "Where were they last seen, and what happened?",
        "Where were they last seen, and what happened? (or /cancel)",
    ),
    ReportField.DONE: Question(
        "What have you done so far?",
        "What have you done so far? (searched, called, visited … or /cancel)",
        "searched, called, visited …",
    ),
    ReportField.CONCERN: Question("Your level of concern", "Your level of concern?"),
}

# The quick answers a conversation offers for "last seen", and the one that asks for typing.
SEEN_CHOICES = (
    Button("Just now", "now"),
    Button("30 min ago", "30 min ago"),
    Button("1 h ago", "1h ago"),
)
TYPE_A_TIME = Button("Type a time", "typed")
SEEN_TYPED_PROMPT = "Type the time last seen: 21:10, 20 min ago, yesterday 23:15 … (or /cancel)"
CONCERN_LABELS = {
    Concern.NONE: "No intervention",
    Concern.CARER: "Carer intervention",
    Concern.POLICE: "Police intervention",
}

# What a form says against a field it can't accept.
FORM_ERRORS = {
    ReportField.CHILD: "Choose one of the children you can report.",
    ReportField.SEEN: "Say when they were last seen: 21:10, 20 min ago …",
    ReportField.WHERE: "Say where they were last seen and what happened.",
    ReportField.DONE: "Say what you have done so far (searched, called, visited …).",
    ReportField.CONCERN: "Choose your level of concern.",
}

# What a conversation says when it ends without a report.
NOT_AMONG_YOURS = "I can't find that child among yours. Nothing was saved."
CANCELLED = "Cancelled. Nothing was saved."
STOPPED = "The guided report was stopped; nothing was saved from it."
TIMED_OUT = "The report timed out and nothing was saved. Start again with /absent."


def absent_command(ref: str, seen: str, where: str, done: str, concern: str) -> str:
    """The finished report as the /absent command a person could have typed."""
    return f"/absent {ref} {seen} {where}; done so far: {done} concern {concern}"


async def reportable_children(svc: Services, staff: Staff, chat: Chat | None = None) -> list[Child]:
    """The children the person may report; in a home's group chat, only that home's (as
    /status there), whatever else a service-wide worker may report."""
    return [
        c
        for c in await child_store.list_children(svc.db)
        if may(staff, "report", c) and shown_in_chat(chat, c)
    ]


def read_seen(svc: Services, child: Child, said: str) -> datetime:
    """'21:10', '20 min ago' … in the child's area; TimeParseError says what is wrong."""
    return parse_when(said, svc.clock.now(), svc.preset_for(child).zone)


# ---- a conversation: one question at a time ----------------------------------------------


@dataclass(frozen=True)
class Ask:
    """The next thing a conversation says: a question (with choices) or its last word."""

    text: str
    choices: tuple[Button, ...] = ()  # each choice's command is the answer it gives
    next: ReportField | None = None  # the field the answer is for; None: the talk is over
    typed: bool = False  # the answer is typed, not chosen


@dataclass
class Draft:
    """A conversation's answers so far."""

    answers: dict[ReportField, str] = field(default_factory=dict)


async def begin(svc: Services, staff: Staff, shown: int, chat: Chat | None = None) -> Ask:
    """The first question: which of the (first `shown`) children the person may report."""
    children = await reportable_children(svc, staff, chat)
    if not children:
        return Ask(NO_CHILDREN)
    choices = tuple(Button(c.label, c.ref) for c in children[:shown])
    return Ask(QUESTIONS[ReportField.CHILD].prompt, choices, ReportField.CHILD)


async def choose_child(
    svc: Services, staff: Staff | None, draft: Draft, ref: str, chat: Chat | None = None
) -> Ask:
    child = await child_store.get_child_by_ref(svc.db, ref)
    if (
        child is None
        or staff is None
        or not can_see(staff, child)
        or not shown_in_chat(chat, child)
    ):
        return Ask(NOT_AMONG_YOURS)
    draft.answers[ReportField.CHILD] = child.ref
    prompt = QUESTIONS[ReportField.SEEN].prompt.format(child=child.label)
    return Ask(prompt, (*SEEN_CHOICES, TYPE_A_TIME), ReportField.SEEN)


async def choose_seen(svc: Services, draft: Draft, choice: str) -> Ask:
    """A quick answer for "last seen", or the choice to type one."""
    if choice == TYPE_A_TIME.command:
        return Ask(SEEN_TYPED_PROMPT, next=ReportField.SEEN, typed=True)
    return await answer_seen(svc, draft, choice)


async def answer_seen(svc: Services, draft: Draft, said: str) -> Ask:
    """A time: stored, or asked for again (typed) with what was wrong."""
    child = await child_store.get_child_by_ref(svc.db, draft.answers[ReportField.CHILD])
    assert child is not None
    try:
        when = read_seen(svc, child, said)
    except TimeParseError as error:
        return Ask(f"{error} Try again, or /cancel.", next=ReportField.SEEN, typed=True)
    draft.answers[ReportField.SEEN] = when.isoformat()
    return Ask(QUESTIONS[ReportField.WHERE].prompt, next=ReportField.WHERE, typed=True)


def answer_where(draft: Draft, text: str) -> Ask:
    draft.answers[ReportField.WHERE] = text.strip()
    return Ask(QUESTIONS[ReportField.DONE].prompt, next=ReportField.DONE, typed=True)


def answer_done(draft: Draft, text: str) -> Ask:
    draft.answers[ReportField.DONE] = text.strip()
    levels = tuple(Button(label, level.value) for level, label in CONCERN_LABELS.items())
    return Ask(QUESTIONS[ReportField.CONCERN].prompt, levels, ReportField.CONCERN)


def answer_concern(draft: Draft, level: str) -> str:
    """The last answer: the report as its /absent command."""
    a = draft.answers
    return absent_command(
        a[ReportField.CHILD], a[ReportField.SEEN], a[ReportField.WHERE], a[ReportField.DONE],
        level,
    )  # fmt: skip


# ---- a form: every question at once ----------------------------------------------------


async def check_form(
    svc: Services, staff: Staff, answers: dict[ReportField, str]
) -> tuple[dict[ReportField, str], str]:
    """(what is wrong, by field, '') or ({}, the /absent command the form stands for)."""
    errors: dict[ReportField, str] = {}
    ref = answers.get(ReportField.CHILD, "")
    child = await child_store.get_child_by_ref(svc.db, ref) if ref else None
    if child is None or not may(staff, "report", child):
        errors[ReportField.CHILD] = FORM_ERRORS[ReportField.CHILD]
    zone = svc.preset_for(child).zone if child is not None else svc.display_zone
    when = None
    seen = answers.get(ReportField.SEEN, "")
    try:
        if not seen:
            raise TimeParseError(FORM_ERRORS[ReportField.SEEN])
        when = parse_when(seen, svc.clock.now(), zone)
    except TimeParseError as error:
        errors[ReportField.SEEN] = str(error)
    where = answers.get(ReportField.WHERE, "")
    done = answers.get(ReportField.DONE, "")
    for name, given in ((ReportField.WHERE, where), (ReportField.DONE, done)):
        if not given:
            errors[name] = FORM_ERRORS[name]
    try:
        level = Concern(answers.get(ReportField.CONCERN, ""))
    except ValueError:
        errors[ReportField.CONCERN] = FORM_ERRORS[ReportField.CONCERN]
    if errors or child is None or when is None:
        return errors, ""
    return {}, absent_command(child.ref, when.isoformat(), where, done, level.value)


def field_refused(refusal_field: str | None) -> ReportField:
    """The field a refused report is shown against (the child when the refusal names none)."""
    try:
        return ReportField(refusal_field) if refusal_field else ReportField.CHILD
    except ValueError:
        return ReportField.CHILD
