"""/duties, /done, /na and /letter: the statutory duties a person owns, and closing them.

The rules that make and chase duties live in reminders/duties.py; this module only checks
who may close which duty and words the replies.
"""

from __future__ import annotations

import re
from datetime import datetime

from config.presets import DutySpec
from config.vocabulary import AUDIENCES, Audience, require_all
from handlers.context import Step
from handlers.messages import Outcome, Refusal
from reminders import duties
from reminders.access import may
from reminders.formatting import duration, local_time
from storage import child_store, duty_store, staff_store
from storage.models import Child, Duty, DutyState, Role

_DUTY_LABEL = re.compile(r"^[Dd]?(\d{1,9})$")

# Roles that may close any duty on a child they can act on, not only their own.
_OVERSIGHT = frozenset(
    {
        Role.TEAM_MANAGER,
        Role.HEAD_OF_SERVICE,
        Role.ASSISTANT_DIRECTOR,
        Role.DIRECTOR,
        Role.MISSING_COORDINATOR,
        Role.OUT_OF_HOURS_MANAGER,
    }
)


# Managers: they see the duties nobody owns in /duties and may take any duty (/take).
_MANAGERS = frozenset(
    {
        Role.TEAM_MANAGER,
        Role.OUT_OF_HOURS_MANAGER,
        Role.HEAD_OF_SERVICE,
        Role.ASSISTANT_DIRECTOR,
        Role.DIRECTOR,
    }
)

# Who could own a duty of each owner rule, besides the managers: who may /take it.
_COULD_OWN: dict[Audience, frozenset[Role]] = {
    "reporter": frozenset({Role.CARER}),
    "home_team": frozenset({Role.CARER}),
    "social_worker": frozenset({Role.SOCIAL_WORKER, Role.OUT_OF_HOURS}),
    "manager": frozenset(),
    "out_of_hours": frozenset({Role.OUT_OF_HOURS}),
    "out_of_hours_manager": frozenset(),
    "police_liaison": frozenset({Role.POLICE_LIAISON}),
    "iro": frozenset({Role.IRO}),
    "missing_coordinator": frozenset({Role.MISSING_COORDINATOR}),
    "missing_tray": frozenset({Role.MISSING_COORDINATOR}),
    "cp_chair": frozenset(),  # a conference chair has no role of their own: managers take it
    "admins": frozenset({Role.ADMIN}),
    "team_manager": frozenset(),
    "head_of_service": frozenset(),
    "assistant_director": frozenset(),
    "director": frozenset(),
}
require_all("audiences", AUDIENCES, _COULD_OWN)
_A_ROLE = {
    Role.CARER: "a carer",
    Role.SOCIAL_WORKER: "a social worker",
    Role.OUT_OF_HOURS: "an out-of-hours duty worker",
    Role.POLICE_LIAISON: "a police liaison officer",
    Role.IRO: "an IRO",
    Role.MISSING_COORDINATOR: "a missing coordinator",
    Role.ADMIN: "an admin",
}


def parse_duty_label(word: str) -> int:
    match = _DUTY_LABEL.match(word)
    if match is None:
        raise Refusal(f"'{word}' is not a duty. Duties look like D12; /duties lists yours.")
    return int(match.group(1))


def _line(step: Step, duty: Duty, child: Child) -> str:
    zone = step.svc.preset_for(child).zone
    due = local_time(duty.due_at, zone)
    if duty.overdue(step.now):
        when = f"OVERDUE by {duration(step.now - duty.due_at)} (due {due})"
    else:
        when = f"due {due}"
    return f"{duty.label} [{duty.rule_id}] {child.label}: {when}. {duty.action}"


async def list_duties(step: Step) -> str:
    """The sender's open duties, overdue first; a manager also sees their team's overdue ones."""
    db = step.svc.db
    own = await duty_store.open_duties(db, step.staff.id)
    team = [
        d for d in await duty_store.open_duties_managed_by(db, step.staff.id) if d.overdue(step.now)
    ]
    unowned: list[Duty] = []
    if step.staff.role in _MANAGERS:  # every manager in scope sees what nobody owns
        for duty in await duty_store.unowned_open_duties(db):
            child = await child_store.get_child(db, duty.child_id)
            if child is not None and may(step.staff, "view", child):
                unowned.append(duty)
    if not own and not team and not unowned:
        return "You have no open duties."
    lines: list[str] = []
    for title, items in (
        ("Your open duties", own),
        ("Overdue in your team", team),
        ("Nobody owns these: take one with /take D<n>", unowned),
    ):
        if not items:
            continue
        items = sorted(items, key=lambda d: (not d.overdue(step.now), d.due_at, d.id))
        lines.append(f"{title} ({len(items)}):")
        for duty in items:
            child = await child_store.get_child(db, duty.child_id)
            if child is not None:
                lines.append(_line(step, duty, child))
    lines.append("Close one with /done D<n> <note> or /na D<n> <reason>.")
    return "\n".join(lines)


async def _may_close(step: Step, duty: Duty, child: Child) -> bool:
    staff = step.staff
    if duty.owner_id == staff.id:
        return True
    if not may(staff, "view", child):
        return False
    if staff.role in _OVERSIGHT:
        return True
    owner = await staff_store.get_staff(step.svc.db, duty.owner_id) if duty.owner_id else None
    if owner is not None and owner.manager_id == staff.id:
        return True
    # Out of hours an urgent duty goes to the duty worker on the rota, who may act on it.
    if staff.role is Role.OUT_OF_HOURS and DutySpec.model_validate(duty.spec).urgent:
        return True
    # Someone holding the duty's role for this child (a duty worker covering, say).
    return duty.owner_role == staff.role.value or (
        duty.owner_id is None and may(staff, "ack", child)
    )


async def close_duty(step: Step, duty_id: int, state: DutyState, note: str) -> Outcome:
    """/done or /na: close the duty, put it on the timeline, make what follows from it."""
    if state is DutyState.NOT_APPLICABLE and not note.strip():
        raise Refusal(f"Say why it does not apply: /na D{duty_id} <reason>. A reason is required.")
    async with step.svc.db.write() as tx:
        duty = await duty_store.get_duty(tx, duty_id)
        child = await child_store.get_child(tx, duty.child_id) if duty else None
        if duty is None or child is None or not may(step.staff, "view", child):
            raise Refusal(f"There is no duty D{duty_id} of yours. /duties lists them.")
        if duty.state is not DutyState.OPEN:
            who = await staff_store.get_staff(tx, duty.closed_by) if duty.closed_by else None
            word = "done" if duty.state is DutyState.DONE else "marked not applicable"
            when = _when(step, duty.closed_at, child)
            raise Refusal(
                f"{duty.label} was already {word} by {who.name if who else 'the bot'} "
                f"{when}: {duty.note or ''}".rstrip(": ")
            )
        if not await _may_close(step, duty, child):
            raise Refusal(
                f"{duty.label} belongs to someone else. Their manager, or the owner, can close it."
            )
        preset = step.svc.preset_for(child)
        follow = await duties.close(
            tx, preset, step.now, duty, state, step.staff, note.strip() or "done"
        )
        made = [await duty_store.get_duty(tx, i) for i in follow]
    word = "done" if state is DutyState.DONE else "not applicable"
    text = (
        f"{duty.label} [{duty.rule_id}] for {child.label} closed as {word}; it is on the timeline."
    )
    for new in made:
        if new is not None:
            text += f"\nNext: {_line(step, new, child)}"
    outcome = Outcome.say(text)
    return outcome.about(duty.episode_id) if duty.episode_id else outcome


async def take_duty(step: Step, duty_id: int) -> Outcome:
    """/take D<n>: a duty nobody owns (or someone else's) becomes the sender's. Staff whose
    role could own it may take it, and managers."""
    async with step.svc.db.write() as tx:
        duty = await duty_store.get_duty(tx, duty_id)
        child = await child_store.get_child(tx, duty.child_id) if duty else None
        if duty is None or child is None or not may(step.staff, "view", child):
            raise Refusal(f"There is no duty D{duty_id} you can see. /duties lists yours.")
        if duty.state is not DutyState.OPEN:
            raise Refusal(f"{duty.label} is already closed; /duties lists the open ones.")
        if duty.owner_id == step.staff.id:
            raise Refusal(f"{duty.label} is already yours: /done {duty.label} <note> when done.")
        role = duty.owner_role or "social_worker"
        could = _COULD_OWN.get(role, frozenset())  # type: ignore[call-overload]
        if step.staff.role not in could and step.staff.role not in _MANAGERS:
            who = [_A_ROLE.get(r, r.value) for r in sorted(could)] + ["a manager"]
            raise Refusal(
                f"{duty.label} [{duty.rule_id}] is a {role.replace('_', ' ')}'s duty: only "
                f"{', '.join(who[:-1]) + ' or ' if len(who) > 1 else ''}{who[-1]} can take it. "
                "Ask the manager on duty to take it or hand it on."
            )
        preset = step.svc.preset_for(child)
        taken = await duties.take(tx, preset, step.now, duty, child, step.staff)
    text = (
        f"{taken.label} [{taken.rule_id}] for {child.label} is yours now: {taken.action} "
        f"Due {local_time(taken.due_at, preset.zone)}. When done: /done {taken.label} <note>."
    )
    outcome = Outcome.say(text)
    return outcome.about(taken.episode_id) if taken.episode_id else outcome


def _when(step: Step, at: datetime | None, child: Child) -> str:
    return f"at {local_time(at, step.svc.preset_for(child).zone)}" if at else ""


async def letter(step: Step, child: Child) -> str:
    """DIR-LETTER: the draft letter to the home authority's Director (NS §4.3)."""
    if not may(step.staff, "letter", child):
        raise Refusal(
            "Only the child's social worker, managers and directors can draft the Director letter."
        )
    preset = step.svc.preset_for(child)
    if preset.director_letter is None:  # given exactly where the area implements DIR-LETTER
        raise Refusal(f"The {preset.name} protocol has no Director letter.")
    return await duties.director_letter(step.svc.db, preset, child, step.now)
