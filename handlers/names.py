"""How people and children are named where two could be confused.

A child is labelled with reference, first name, home and age in a direct chat when two could
be mixed up (a group chat shows reference and first name only); a first name shared by two
of the sender's children resolves to the one with an alert waiting for them, for /ack; staff
are named by id, or by an unambiguous first name or name; /staff lists whom an alert may be
handed over to.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from config.role_words import said
from handlers.context import Step
from handlers.messages import Outcome, Refusal
from reminders.access import ACTIONS
from storage import escalation_store, staff_store
from storage.models import Child, Role, Staff

if TYPE_CHECKING:  # handlers.arguments reads names with these helpers
    from handlers.arguments import Typed


def home_name(home: str | None) -> str | None:
    """'oak-house' -> 'Oak House'."""
    return home.replace("-", " ").replace("_", " ").title() if home else None


def child_label(child: Child, today: date) -> str:
    """Reference, first name, home and age: 'C-0042 Jay (Oak House, 15)'. For direct
    messages only: a group chat shows the reference and first name (child.label)."""
    age = child.age_on(today)
    extra = [
        part for part in (home_name(child.home), str(age) if age is not None else None) if part
    ]
    return f"{child.label} ({', '.join(extra)})" if extra else child.label


def labels_for(step: Step, children: list[Child]) -> str:
    """Children listed so they can be told apart: home and age in a direct chat, reference
    and first name only in a group chat (never more there)."""
    if step.chat is not None and step.chat.is_group:
        return ", ".join(c.label for c in children)
    today = step.now.astimezone(step.svc.preset_for(children[0]).zone).date()
    return ", ".join(child_label(c, today) for c in children)


async def waiting_for(step: Step, children: list[Child]) -> list[Child]:
    """Of `children`, those with an alert sent to the sender that nobody has taken yet."""
    live = await escalation_store.live_escalations_of(step.svc.db, step.staff.id)
    waiting = {e.child_id for e in live if e.needs_ack and e.acked_by is None}
    return [c for c in children if c.id in waiting]


# ---- staff ---------------------------------------------------------------------------------


def _name_words(staff: Staff) -> str:
    """'Sam Carter (carer)' -> 'sam carter': the name without its bracketed note."""
    return " ".join(re.sub(r"\([^)]*\)", " ", staff.name).lower().split())


def staff_line(staff: Staff) -> str:
    """'oohm: Morgan, out of hours manager, oak-house': id first (what to type), no phone
    or e-mail (this may be shown in a group chat)."""
    where = staff.home or staff.team
    parts = [staff.name, said(staff.role), *([where] if where else [])]
    return f"{staff.id}: {', '.join(parts)}"


async def resolve_staff(step: Step, words: list[str]) -> tuple[Staff, list[str]]:
    """A colleague named by staff id, or by a first name or whole name only one active
    colleague has: (them, the words after the name)."""
    if not words:
        raise Refusal("To whom? Give their staff id or name; /staff lists them.")
    people = [s for s in await staff_store.list_staff(step.svc.db) if s.active]
    by_id = next((s for s in people if s.id == words[0].lower()), None)
    if by_id is not None:
        return by_id, words[1:]
    for size in (3, 2, 1):  # the longest name first: "Sam Carter" before "Sam"
        said = " ".join(words[:size]).lower().strip(",.")
        if size > len(words):
            continue
        # one word: anyone whose name is it or starts with it ("Morgan" is Morgan Lee too)
        named = [
            s
            for s in people
            if _name_words(s) == said or (size == 1 and _name_words(s).split()[:1] == [said])
        ]
        if len(named) == 1:
            return named[0], words[size:]
        if len(named) > 1:
            listed = "; ".join(staff_line(s) for s in named)
            raise Refusal(
                f"More than one colleague is called {' '.join(words[:size])}: {listed}. Use the staff id."
            )
    raise Refusal(
        f"I don't know staff '{words[0]}'. Use their staff id or name; /staff lists them."
    )


async def staff_list(step: Step, typed: Typed) -> Outcome:
    """/staff [home or role]: the people an alert may be handed over to, id first."""
    if step.staff.role not in ACTIONS["ack"]:  # as for /handover itself
        allowed = ", ".join(sorted(said(r) for r in ACTIONS["ack"]))
        raise Refusal(
            f"Your role ({step.staff.role.value.replace('_', ' ')}) can't do that. "
            f"It is for: {allowed}."
        )
    wanted = " ".join(typed.args).lower().replace(" ", "_").replace("-", "_")
    takers = [
        s
        for s in await staff_store.list_staff(step.svc.db)
        if s.active and s.role in ACTIONS["ack"] and s.id != step.staff.id
    ]
    if wanted:
        roles = {r for r in Role if r.value == wanted or r.value == wanted.rstrip("s")}

        def place(s: Staff) -> str:
            return (s.home or s.team or "").replace("-", "_")

        takers = [s for s in takers if s.role in roles or place(s) == wanted]
    if not takers:
        about = f" for '{' '.join(typed.args)}'" if wanted else ""
        return Outcome.say(
            f"Nobody{about} can take an alert over. Try /staff on its own, or a role such as "
            "/staff out of hours."
        )
    lines = [staff_line(s) for s in sorted(takers, key=lambda s: (s.role.value, s.name))]
    head = "Who can take an alert over (type the id: /handover <child> <staff id>):"
    return Outcome.say("\n".join([head, *lines]))
