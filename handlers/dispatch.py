"""Typed commands in, replies out: the same words on every transport.

Transports resolve who is typing (a Staff record or None) and hand the raw text here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from handlers import duty_commands, episodes, report_commands, views
from handlers.access import action_refusal, can_see, may
from handlers.context import Services
from handlers.episodes import Step
from handlers.messages import Chat, Outcome, Refusal, Reply
from handlers.timeparse import TimeParseError, split_leading_time
from reminders.formatting import profile_text
from storage import child_store, staff_store
from storage.models import (
    Button,
    Category,
    Child,
    Concern,
    DutyState,
    EndReason,
    PoliceGrade,
    RhiStatus,
    Staff,
)
from storage.versioned import StaleWrite

log = logging.getLogger(__name__)

NOT_ENROLLED = "You're not enrolled in Whereabouts. Ask your manager for an invite code."

HELP = """Whereabouts commands (a child is named by reference, e.g. C-0042, or first name):
/absent <child> <last seen> <where and what happened> [concern none|carer|police]
   siblings together: /absent C-0042,C-0043 21:05 ...
/away <child> <where they are>  (looked-after child, whereabouts known)
/update <child> [time] <what you did or heard>
/concern <child> none|carer|police [why]
/police <child> ref <police ref> grade <low|medium|high>
/found <child> <time> <end reason> <where, with whom>
   end reasons: self, police, social-care, school, family, other, deceased
/rhi <child> offered|held|declined <by whom / notes>
/rhi <child> independent [notes]  (the child wants an independent interviewer)
/abduction <child> <details>   /harm <child> <details>   /media <child> <details>
/duties   your open duties, overdue first
/done D<n> <note>   /na D<n> <reason>   /letter <child>  (Director letter draft)
/record <child> parents|risk|next|context <text>  (for the daily summary)
/summary   /chart   /subscribe daily|weekly   /unsubscribe daily|weekly  (managers)
/finalise <child> [note]   (team manager)
/ack <child>   I've got it: stops the escalation and tells the reporter
/handover <child> <staff id>   /escalate <child>   /disagree <child> <what the police said>
/status [child]   /timeline <child>   /profile <child> (by direct message)   /help
Times: 21:10, now, 20 min ago, 2h ago, yesterday 23:15, Fri 21:10, 2026-10-23 21:10"""

USAGE = {
    "absent": "/absent <child> <last seen time> <where and what happened>",
    "away": "/away <child> <where they are>",
    "update": "/update <child> [time] <what happened>",
    "concern": "/concern <child> none|carer|police [why]",
    "police": "/police <child> ref <police ref> grade <low|medium|high>",
    "found": "/found <child> <time> <end reason> <where, with whom>",
    "rhi": "/rhi <child> offered|held|declined <by whom / notes>",
    "finalise": "/finalise <child> [note]",
    "timeline": "/timeline <child>",
    "ack": "/ack <child>",
    "handover": "/handover <child> <staff id>",
    "escalate": "/escalate <child>",
    "disagree": "/disagree <child> <what the police said>",
    "done": "/done D<n> <note>",
    "na": "/na D<n> <reason it does not apply>",
    "letter": "/letter <child>",
    "record": "/record <child> parents|risk|next|context <text>",
}

# Events that make the area's duties: /command -> (trigger, rule id it is recorded under).
FLAGS = {
    "abduction": ("abduction", "MIS-ABDUCT"),
    "harm": ("harm", "DIR-LETTER"),
    "media": ("media", "MIS-MEDIA"),
}

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
    if name == "finalize":
        name = "finalise"
    return Parsed(name, rest.split())


class Dispatcher:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._commands: dict[str, Callable[[Step, list[str]], Awaitable[Outcome]]] = {
            "absent": self._absent,
            "away": self._away,
            "update": self._update,
            "concern": self._concern,
            "police": self._police,
            "found": self._found,
            "rhi": self._rhi,
            "finalise": self._finalise,
            "status": self._status,
            "ack": self._ack,
            "handover": self._handover,
            "escalate": self._escalate,
            "disagree": self._disagree,
            "callme": self._callme,
            "profile": self._profile,
            "timeline": self._timeline,
            "duties": self._duties,
            "done": self._done,
            "na": self._na,
            "letter": self._letter,
            "record": self._record,
            "summary": self._summary,
            "chart": self._chart,
            "subscribe": partial(self._subscribe, on=True),
            "unsubscribe": partial(self._subscribe, on=False),
            **{name: partial(self._flag, name=name) for name in FLAGS},
        }

    async def handle(self, staff: Staff | None, text: str, chat: Chat | None = None) -> Outcome:
        if staff is None:
            return Outcome.say(NOT_ENROLLED)
        parsed = parse_command(text)
        if parsed is None or parsed.name in ("help", "start"):
            return Outcome.say(HELP)
        command = self._commands.get(parsed.name)
        if command is None:
            return Outcome.say(f"I don't know /{parsed.name}. Send /help for the commands.")
        step = Step(self.svc, staff, self.svc.clock.now(), chat)
        try:
            return await command(step, parsed.args)
        # Refused: nothing was stored, so a pressed button must not show as taken.
        except Refusal as refusal:
            return Outcome.refuse(refusal.message)
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

    # ---- helpers --------------------------------------------------------------

    async def resolve_child(self, staff: Staff, name: str) -> Child:
        """A reference, or a first name unambiguous among the children the sender works with."""
        unknown = (
            f"I can't find '{name}' among the children you work with. Use their reference "
            "(e.g. C-0042); /status lists open episodes."
        )
        if _CHILD_REF.match(name):
            child = await child_store.get_child_by_ref(self.svc.db, name)
            if child is None or not can_see(staff, child):
                raise Refusal(unknown)
            return child
        matches = [
            c
            for c in await child_store.children_by_first_name(self.svc.db, name)
            if can_see(staff, c)
        ]
        if not matches:
            raise Refusal(unknown)
        if len(matches) > 1:
            refs = ", ".join(c.label for c in matches)
            raise Refusal(f"More than one child called {name}: {refs}. Use the reference.")
        return matches[0]

    async def _child_and_rest(
        self, step: Step, args: list[str], usage: str
    ) -> tuple[Child, list[str]]:
        if not args:
            raise Refusal(f"Which child? {usage}")
        return await self.resolve_child(step.staff, args[0]), args[1:]

    def _tz(self, child: Child):  # noqa: ANN202 - ZoneInfo
        return self.svc.preset_for(child).zone

    # ---- commands ---------------------------------------------------------------

    async def _absent(
        self, step: Step, args: list[str], category: Category = Category.ABSENT
    ) -> Outcome:
        usage = USAGE["absent"]
        if len(args) < 2:
            raise Refusal(f"Usage: {usage}")
        names = [n for n in re.split(r"[,+]", args[0]) if n]
        if not names:
            raise Refusal(f"Which child? {usage}")
        children = [await self.resolve_child(step.staff, n) for n in names]
        if len({c.id for c in children}) != len(children):
            raise Refusal("The same child is named twice.")
        when, rest = split_leading_time(args[1:], step.now, self._tz(children[0]))
        concern = Concern.CARER
        if len(rest) >= 2 and rest[-2].lower() == "concern":
            try:
                concern = Concern(rest[-1].lower())
            except ValueError:
                raise Refusal("Level of concern is none, carer or police.") from None
            rest = rest[:-2]
        return await episodes.report_absent(step, children, when, " ".join(rest), concern, category)

    async def _away(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["away"])
        if not rest:
            raise Refusal(f"Say where they are: {USAGE['away']}")
        return await episodes.mark_away(step, child, " ".join(rest))

    async def _update(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["update"])
        at = step.now
        # A leading time ("21:40 searched the park", "20 min ago rang Leo") is when it happened.
        if rest:
            try:
                at, rest = split_leading_time(rest, step.now, self._tz(child))
            except TimeParseError:
                if _looks_like_time(rest[0]):
                    raise  # meant as a time but not usable: say why rather than guess
                at = step.now
        return await episodes.add_update(step, child, at, " ".join(rest))

    async def _concern(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["concern"])
        try:
            level = Concern(rest[0].lower())
        except (IndexError, ValueError):
            raise Refusal(f"Usage: {USAGE['concern']}") from None
        return await episodes.set_concern(step, child, level, " ".join(rest[1:]))

    async def _police(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["police"])
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
        if not ref or not grade:
            raise Refusal(
                f"Record the police reference and risk grade [MIS-REF, MIS-GRADE]: {USAGE['police']}"
            )
        try:
            police_grade = PoliceGrade(grade)
        except ValueError:
            raise Refusal("The police risk grade is low, medium or high [MIS-GRADE].") from None
        return await episodes.report_police(step, child, ref, police_grade, " ".join(notes))

    async def _found(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["found"])
        if not rest or (len(rest) == 1 and rest[0].lower() == "now"):
            # From a "Found" button: offer the end reasons, each a complete command.
            return Outcome.say(
                f"How did {child.label} come back? (Add where and with whom after, with /update.)",
                *(Button(label, f"/found {child.ref} now {word}") for word, label in FOUND_BUTTONS),
            )
        when, rest = split_leading_time(rest, step.now, self._tz(child))
        words = [w.lower() for w in rest]
        # Allow "returned by self", "found by school" as well as the one-word forms.
        while words and words[0] in ("returned", "found", "by") and len(words) > 1:
            if words[1] in ("by",) or words[0] == "by" or words[1] in END_REASONS:
                words, rest = words[1:], rest[1:]
            else:
                break
        reason = END_REASONS.get(words[0]) if words else None
        if reason is None:
            raise Refusal(
                "Give the end reason after the time: self, police, social-care, school, family, "
                f"other or deceased. {USAGE['found']}"
            )
        return await episodes.record_found(step, child, when, reason, " ".join(rest[1:]))

    async def _rhi(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["rhi"])
        if rest and rest[0].lower() == "independent":
            return await episodes.rhi_independent(step, child, " ".join(rest[1:]))
        try:
            status = RhiStatus(rest[0].lower())
        except (IndexError, ValueError):
            raise Refusal(f"Usage: {USAGE['rhi']}. Only the child can decline (J §10.1).") from None
        return await episodes.record_rhi(step, child, status, " ".join(rest[1:]))

    async def _finalise(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["finalise"])
        return await episodes.finalise(step, child, " ".join(rest))

    async def _status(self, step: Step, args: list[str]) -> Outcome:
        child = await self.resolve_child(step.staff, args[0]) if args else None
        text = await views.status(self.svc, step.staff, child, step.chat)
        return _privately(step, text) if child else Outcome.say(text)

    async def _timeline(self, step: Step, args: list[str]) -> Outcome:
        child, _ = await self._child_and_rest(step, args, USAGE["timeline"])
        return _privately(step, await views.timeline(self.svc, child))

    async def _ack(self, step: Step, args: list[str]) -> Outcome:
        child, _ = await self._child_and_rest(step, args, USAGE["ack"])
        return await episodes.acknowledge(step, child)

    async def _handover(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["handover"])
        if not rest:
            raise Refusal(f"To whom? {USAGE['handover']}")
        target = await staff_store.get_staff(self.svc.db, rest[0].lower())
        if target is None or not target.active:
            raise Refusal(f"I don't know staff '{rest[0]}'. Use their staff id.")
        return await episodes.handover(step, child, target)

    async def _escalate(self, step: Step, args: list[str]) -> Outcome:
        child, _ = await self._child_and_rest(step, args, USAGE["escalate"])
        return await episodes.escalate(step, child)

    async def _profile(self, step: Step, args: list[str]) -> Outcome:
        child, _ = await self._child_and_rest(step, args, "/profile <child>")
        if not may(step.staff, "profile", child):
            raise Refusal(action_refusal(step.staff, "profile", child))
        # Always private: in a group it goes to the asker by direct message.
        text = f"{child.label}\n{profile_text(child)}"
        if step.chat is not None and step.chat.is_group:
            return _privately(step, text)
        return Outcome([Reply(text, private=True)])

    async def _callme(self, step: Step, args: list[str]) -> Outcome:
        child, _ = await self._child_and_rest(step, args, "/callme <child>")
        return await episodes.call_me(step, child)

    async def _disagree(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["disagree"])
        return await episodes.police_disagree(step, child, " ".join(rest))

    async def _duties(self, step: Step, args: list[str]) -> Outcome:
        # Duty lines name children and police references: never into a group.
        return _privately(step, await duty_commands.list_duties(step))

    async def _done(self, step: Step, args: list[str]) -> Outcome:
        if not args:
            raise Refusal(f"Which duty? {USAGE['done']} (/duties lists yours)")
        duty_id = duty_commands.parse_duty_label(args[0])
        return await duty_commands.close_duty(step, duty_id, DutyState.DONE, " ".join(args[1:]))

    async def _na(self, step: Step, args: list[str]) -> Outcome:
        if not args:
            raise Refusal(f"Which duty? {USAGE['na']} (/duties lists yours)")
        duty_id = duty_commands.parse_duty_label(args[0])
        return await duty_commands.close_duty(
            step, duty_id, DutyState.NOT_APPLICABLE, " ".join(args[1:])
        )

    async def _letter(self, step: Step, args: list[str]) -> Outcome:
        child, _ = await self._child_and_rest(step, args, USAGE["letter"])
        return _privately(step, await duty_commands.letter(step, child))

    async def _record(self, step: Step, args: list[str]) -> Outcome:
        child, rest = await self._child_and_rest(step, args, USAGE["record"])
        if not rest:
            raise Refusal(f"Usage: {USAGE['record']}")
        return await report_commands.record(step, child, rest[0].lower(), " ".join(rest[1:]))

    async def _summary(self, step: Step, args: list[str]) -> Outcome:
        outcome = await report_commands.summary(step)
        return _privately(step, outcome.text)

    async def _chart(self, step: Step, args: list[str]) -> Outcome:
        return await report_commands.chart(step)

    async def _subscribe(self, step: Step, args: list[str], on: bool) -> Outcome:
        kind = args[0].lower() if args else ""
        return await report_commands.subscribe(step, kind, on)

    async def _flag(self, step: Step, args: list[str], name: str) -> Outcome:
        child, rest = await self._child_and_rest(step, args, f"/{name} <child> <details>")
        trigger, rule = FLAGS[name]
        return await episodes.flag(step, child, trigger, " ".join(rest), rule, name)


def _looks_like_time(word: str) -> bool:
    return bool(re.fullmatch(r"\d{1,2}[:.]\d{2}|\d{4}-\d{2}-\d{2}.*|now", word.lower()))


def _privately(step: Step, text: str) -> Outcome:
    """A child's details asked for in a group chat go to the asker directly."""
    if step.chat is not None and step.chat.is_group:
        return Outcome([Reply(text, private=True), Reply("Sent to you in a direct message.")])
    return Outcome.say(text)
