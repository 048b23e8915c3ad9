"""Each command's words read into a call on the flows: which child, which time, which reason.

The registry (handlers/commands.py) names the function for each command; a refusal here
quotes the command's usage line, which the registry passes in with the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from config import rule_ids
from config.rule_effects import recorded_under
from config.vocabulary import Trigger
from handlers import duty_commands, episodes, names, notices, report_commands, views
from handlers.context import Step
from handlers.messages import Outcome, Refusal, Reply
from handlers.timeparse import AmbiguousTime, TimeParseError, split_leading_time, typed_form
from reminders.access import action_refusal, can_see, may
from reminders.formatting import profile_text
from storage import child_store
from storage.models import (
    Button,
    Category,
    Child,
    Concern,
    DutyState,
    EndReason,
    PoliceGrade,
    RhiStatus,
)

# Events that make the area's duties: /command -> (trigger, rule id it is recorded under).
FLAG_TRIGGERS: tuple[Trigger, ...] = ("abduction", "harm", "media")
FLAGS: dict[str, tuple[Trigger, str]] = {n: (n, recorded_under(n)) for n in FLAG_TRIGGERS}

END_REASONS = {
    "self": EndReason.SELF,
    "returned": EndReason.SELF,
    "police": EndReason.POLICE,
    "agency": EndReason.POLICE,
    "social-care": EndReason.SOCIAL_CARE,
    "socialcare": EndReason.SOCIAL_CARE,
    "sc": EndReason.SOCIAL_CARE,
    "school": EndReason.SCHOOL,
    "family": EndReason.FAMILY,
    "carers": EndReason.FAMILY,
    "carer": EndReason.FAMILY,
    "other": EndReason.OTHER,
    "deceased": EndReason.DECEASED,
}
END_REASONS.update({reason.value: reason for reason in EndReason})

FOUND_BUTTONS = (
    ("self", "Came back by self"),
    ("police", "Police / agency"),
    ("family", "Family / carers"),
    ("social-care", "Social care"),
    ("school", "School"),
    ("other", "Other"),
)

_CHILD_REF = re.compile(r"^[A-Za-z]{1,3}-\d{1,6}$")


@dataclass(frozen=True)
class Typed:
    """A command as typed: its name, the words after it, and its usage line."""

    name: str
    args: list[str]
    usage: str


# ---- helpers --------------------------------------------------------------------------


async def resolve_child(step: Step, name: str, *, waiting: bool = False) -> Child:
    """A reference, or a first name unambiguous among the children the sender works with
    (`waiting`: or among those with an alert waiting for the sender, for /ack)."""
    staff, db = step.staff, step.svc.db
    unknown = (
        f"I can't find '{name}' among the children you work with. Use their reference "
        "(e.g. C-0042); /status lists open episodes."
    )
    if _CHILD_REF.match(name):
        child = await child_store.get_child_by_ref(db, name)
        if child is None or not can_see(staff, child):
            raise Refusal(unknown)
        return child
    matches = [c for c in await child_store.children_by_first_name(db, name) if can_see(staff, c)]
    if not matches:
        raise Refusal(unknown)
    if len(matches) > 1 and waiting and len(alerted := await names.waiting_for(step, matches)) == 1:
        return alerted[0]
    if len(matches) > 1:
        refs = names.labels_for(step, matches)
        raise Refusal(f"More than one child called {name}: {refs}. Use the reference.")
    return matches[0]


async def _child_and_rest(step: Step, typed: Typed) -> tuple[Child, list[str]]:
    if not typed.args:
        raise Refusal(f"Which child? {typed.usage}")
    return await resolve_child(step, typed.args[0]), typed.args[1:]


def _child_list(args: list[str]) -> tuple[list[str], list[str]]:
    """Siblings named together, with or without spaces after the commas: 'C-0042,C-0043',
    'C-0042, C-0043', 'Jay + Mia' -> (the names, the words after them)."""
    words = [args[0]]
    rest = list(args[1:])

    def named() -> bool:  # a separator with no name before it ("/absent , 21:10") lists none
        return bool("".join(words).strip(",+"))

    while rest and named() and (words[-1].endswith((",", "+")) or rest[0].startswith((",", "+"))):
        words.append(rest.pop(0))
    return [n for n in re.split(r"[,+]", "".join(words)) if n], rest


def _tz(step: Step, child: Child) -> ZoneInfo:
    return step.svc.preset_for(child).zone


def _looks_like_time(word: str) -> bool:
    return bool(
        re.fullmatch(
            r"\d{1,2}[:.]\d{2}|\d{1,2}([:.]\d{2})?[ap]m|\d{4}-\d{2}-\d{2}.*|now", word.lower()
        )
    )


def _privately(step: Step, text: str) -> Outcome:
    """A child's details asked for in a group chat go to the asker directly."""
    if step.chat is not None and step.chat.is_group:
        return Outcome([Reply(text, private=True), Reply("Sent to you in a direct message.")])
    return Outcome.say(text)


# ---- commands -------------------------------------------------------------------------


async def absent(step: Step, typed: Typed) -> Outcome:
    args, usage = typed.args, typed.usage
    if len(args) < 2:
        raise Refusal(f"Usage: {usage}")
    names, after = _child_list(args)
    if not names:
        raise Refusal(f"Which child? {usage}")
    children = [await resolve_child(step, n) for n in names]
    if len({c.id for c in children}) != len(children):
        raise Refusal("The same child is named twice.")
    when, rest = split_leading_time(after, step.now, _tz(step, children[0]))
    concern = Concern.CARER
    if len(rest) >= 2 and rest[-2].lower() == "concern":
        try:
            concern = Concern(rest[-1].lower())
        except ValueError:
            raise Refusal("Level of concern is none, carer or police.") from None
        rest = rest[:-2]
    return await episodes.report_absent(
        step, children, when, " ".join(rest), concern, Category.ABSENT
    )


async def away(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    if not rest:
        raise Refusal(f"Say where they are: {typed.usage}")
    return await episodes.mark_away(step, child, " ".join(rest))


async def update(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    at = step.now
    # A leading time ("21:40 searched the park", "20 min ago rang Leo") is when it happened.
    if rest:
        try:
            at, rest = split_leading_time(rest, step.now, _tz(step, child), optional=True)
        except AmbiguousTime:
            raise  # which of two times: asked, never guessed
        except TimeParseError:
            if _looks_like_time(rest[0]):
                raise  # meant as a time but not usable: say why rather than guess
            at = step.now
    return await episodes.add_update(step, child, at, " ".join(rest))


async def concern(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    try:
        level = Concern(rest[0].lower())
    except (IndexError, ValueError):
        said = f"'{rest[0]}' is not a level of concern. " if rest else ""
        raise Refusal(
            f"{said}Nothing was changed. Choose one, then say why:\n"
            f"• none: you are not worried for their safety and wait a while for them to "
            f"come back (/concern {child.ref} none <why>)\n"
            f"• carer: you search and ring round; not yet a police matter "
            f"(/concern {child.ref} carer <why>)\n"
            f"• police: you are worried for their immediate safety: report them missing to "
            f"the police now (/concern {child.ref} police <why>)"
        ) from None
    return await episodes.set_concern(step, child, level, " ".join(rest[1:]))


async def police(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    ref = grade = None
    notes: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i].lower()
        if word == "ref" and i + 1 < len(rest):
            ref, i = rest[i + 1], i + 2
        elif word == "grade" and i + 1 < len(rest):
            grade, i = rest[i + 1].lower(), i + 2
        else:
            notes.append(rest[i])
            i += 1
    if ref and not grade:
        raise Refusal(
            "Nothing was saved yet. What grade did the police give: low, medium or high? "
            f"Send /police {child.ref} ref {ref} grade <low|medium|high> "
            f"[{rule_ids.POLICE_GRADE}]"
        )
    if grade and not ref:
        raise Refusal(
            "Nothing was saved yet. What reference did the police give? "
            f"Send /police {child.ref} ref <police ref> grade {grade} "
            f"[{rule_ids.POLICE_REFERENCE}]"
        )
    if not ref or not grade:
        raise Refusal(
            f"Record the police reference and risk grade [{rule_ids.POLICE_REFERENCE}, {rule_ids.POLICE_GRADE}]: {typed.usage}"
        )
    try:
        police_grade = PoliceGrade(grade)
    except ValueError:
        raise Refusal(
            f"The police risk grade is low, medium or high [{rule_ids.POLICE_GRADE}]."
        ) from None
    return await episodes.report_police(step, child, ref, police_grade, " ".join(notes))


async def found(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    if not rest or (len(rest) == 1 and rest[0].lower() == "now"):
        # From a "Found" button: offer the end reasons, each a complete command.
        return Outcome.say(
            f"How did {child.label} come back? (Add where and with whom after, with /update.)",
            *(Button(label, f"/found {child.ref} now {word}") for word, label in FOUND_BUTTONS),
        )
    when, rest = split_leading_time(rest, step.now, _tz(step, child))
    words = [w.lower() for w in rest]
    # Allow "returned by self", "found by school" as well as the one-word forms.
    while words and words[0] in ("returned", "found", "by") and len(words) > 1:
        if words[1] in ("by",) or words[0] == "by" or words[1] in END_REASONS:
            words, rest = words[1:], rest[1:]
        else:
            break
    reason = END_REASONS.get(words[0]) if words else None
    if reason is None and rest:
        # "/found Jay 21:20 walked back in": ask how, keeping the time and the words.
        at = typed_form(when, _tz(step, child), step.now)
        said = " ".join(rest)
        return Outcome.say(
            f"How did {child.label} come back? Nothing is saved yet. Put how before your "
            f"words, e.g. /found {child.ref} {at} self {said}\n"
            "(self, police, family, social-care, school, other or deceased)",
            *(
                Button(label, f"/found {child.ref} {at} {word} {said}")
                for word, label in FOUND_BUTTONS
            ),
        )
    if reason is None:
        raise Refusal(
            "Give the end reason after the time: self, police, social-care, school, family, "
            f"other or deceased. {typed.usage}"
        )
    return await episodes.record_found(step, child, when, reason, " ".join(rest[1:]))


async def rhi(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    if rest and rest[0].lower() == "independent":
        return await episodes.rhi_independent(step, child, " ".join(rest[1:]))
    try:
        status = RhiStatus(rest[0].lower())
    except (IndexError, ValueError):
        raise Refusal(f"Usage: {typed.usage}. Only the child can decline.") from None
    return await episodes.record_rhi(step, child, status, " ".join(rest[1:]))


async def finalise(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    return await episodes.finalise(step, child, " ".join(rest))


async def status(step: Step, typed: Typed) -> Outcome:
    child = await resolve_child(step, typed.args[0]) if typed.args else None
    text = await views.status(step.svc, step.staff, child, step.chat)
    return _privately(step, text) if child else Outcome.say(text)


async def timeline(step: Step, typed: Typed) -> Outcome:
    child, _ = await _child_and_rest(step, typed)
    return _privately(step, await views.timeline(step.svc, child))


async def ack(step: Step, typed: Typed) -> Outcome:
    if not typed.args:
        raise Refusal(f"Which child? {typed.usage}")
    child = await resolve_child(step, typed.args[0], waiting=True)
    return await episodes.acknowledge(step, child)


async def handover(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    if not rest:
        raise Refusal(f"To whom? {typed.usage}")
    target, _ = await names.resolve_staff(step, rest)
    return await episodes.handover(step, child, target)


async def escalate(step: Step, typed: Typed) -> Outcome:
    child, _ = await _child_and_rest(step, typed)
    return await episodes.escalate(step, child)


async def profile(step: Step, typed: Typed) -> Outcome:
    child, _ = await _child_and_rest(step, typed)
    if not may(step.staff, "profile", child):
        raise Refusal(action_refusal(step.staff, "profile", child))
    # Always private: in a group it goes to the asker by direct message.
    text = f"{child.label}\n{profile_text(child)}"
    if step.chat is not None and step.chat.is_group:
        return _privately(step, text)
    return Outcome([Reply(text, private=True)])


async def callme(step: Step, typed: Typed) -> Outcome:
    child, _ = await _child_and_rest(step, typed)
    return await episodes.call_me(step, child)


async def disagree(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    return await episodes.police_disagree(step, child, " ".join(rest))


async def duties(step: Step, typed: Typed) -> Outcome:
    # Duty lines name children and police references: never into a group.
    return _privately(step, await duty_commands.list_duties(step))


async def done(step: Step, typed: Typed) -> Outcome:
    if not typed.args:
        raise Refusal(f"Which duty? {typed.usage} (/duties lists yours)")
    duty_id = duty_commands.parse_duty_label(typed.args[0])
    return await duty_commands.close_duty(step, duty_id, DutyState.DONE, " ".join(typed.args[1:]))


async def na(step: Step, typed: Typed) -> Outcome:
    if not typed.args:
        raise Refusal(f"Which duty? {typed.usage} (/duties lists yours)")
    duty_id = duty_commands.parse_duty_label(typed.args[0])
    note = " ".join(typed.args[1:])
    return await duty_commands.close_duty(step, duty_id, DutyState.NOT_APPLICABLE, note)


async def take(step: Step, typed: Typed) -> Outcome:
    if not typed.args:
        raise Refusal(f"Which duty? {typed.usage} (/duties lists them)")
    return await duty_commands.take_duty(step, duty_commands.parse_duty_label(typed.args[0]))


async def letter(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    if rest and rest[0].lower() == "sign":  # DIR-LETTER: signed, and sent by e-mail
        return await notices.sign_letter(step, child)
    if rest:
        raise Refusal(f"Usage: {typed.usage}, or /letter {child.ref} sign (the Director)")
    draft = await duty_commands.letter(step, child)
    return _privately(step, draft + notices.letter_footer(step, child))


async def notice(step: Step, typed: Typed) -> Outcome:
    """/notice <child> home|profile [send]: a formal notice by e-mail (handlers/notices.py)."""
    child, rest = await _child_and_rest(step, typed)
    kind = rest[0].lower() if rest else ""
    if (
        kind not in ("home", "profile")
        or len(rest) > 2
        or (len(rest) == 2 and rest[1].lower() != "send")
    ):
        raise Refusal(
            f"Usage: /notice {child.ref} home (the home authority is told) or /notice "
            f"{child.ref} profile (the Missing Profile to the police); add send to send it."
        )
    return await notices.notice(step, child, kind, send=len(rest) == 2)  # type: ignore[arg-type]


async def record(step: Step, typed: Typed) -> Outcome:
    child, rest = await _child_and_rest(step, typed)
    if not rest:
        raise Refusal(f"Usage: {typed.usage}")
    return await report_commands.record(step, child, rest[0].lower(), " ".join(rest[1:]))


async def summary(step: Step, typed: Typed) -> Outcome:
    outcome = await report_commands.summary(step)
    return _privately(step, outcome.text)


async def chart(step: Step, typed: Typed) -> Outcome:
    return await report_commands.chart(step)


async def subscribe(step: Step, typed: Typed) -> Outcome:
    kind = typed.args[0].lower() if typed.args else ""
    return await report_commands.subscribe(step, kind, on=typed.name == "subscribe")


async def flag(step: Step, typed: Typed) -> Outcome:
    """/abduction, /harm, /media: an event that makes the area's duties."""
    child, rest = await _child_and_rest(step, typed)
    trigger, rule = FLAGS[typed.name]
    return await episodes.flag(step, child, trigger, " ".join(rest), rule, typed.name)
