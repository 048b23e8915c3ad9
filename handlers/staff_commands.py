"""Staff lifecycle from chat and the command line: /leaver, and `whereabouts staff leave`.

The rules of leaving (who is cut off, what is handed on) are in reminders/leavers.py; this
module checks who may record a leave and words the replies.
"""

from __future__ import annotations

import difflib

from handlers import rota_gaps
from handlers.arguments import Typed
from handlers.context import Services, Step
from handlers.messages import Outcome, Refusal, Reply
from reminders import leavers
from reminders.formatting import local_time
from storage import staff_store
from storage.db import Reader
from storage.models import Role, Staff


async def unknown_staff(r: Reader, staff_id: str) -> str:
    """The refusal for a staff id nobody has, with the close matches."""
    ids = [s.id for s in await staff_store.list_staff(r)]
    close = difflib.get_close_matches(staff_id.lower(), ids, n=3, cutoff=0.6)
    hint = (
        f" Did you mean {', '.join(close)}?" if close else " `whereabouts list staff` lists them."
    )
    return f"There is no staff member '{staff_id}'.{hint}"


async def in_line_of(r: Reader, manager: Staff, person: Staff) -> bool:
    """Is `manager` the person's manager, or above them up the manager_id chain?"""
    seen: set[str] = set()
    current = person.manager_id
    while current and current not in seen:
        if current == manager.id:
            return True
        seen.add(current)
        above = await staff_store.get_staff(r, current)
        current = above.manager_id if above else None
    return False


async def may_manage(r: Reader, who: Staff, person: Staff) -> bool:
    """Admins, and the person's own manager and up their line."""
    return who.role is Role.ADMIN or await in_line_of(r, who, person)


async def record_leave(
    svc: Services, staff_id: str, by: Staff | None, reason: str | None
) -> leavers.Handover:
    """The leave and its handover in one write (leavers.NotALeaver: nothing written)."""
    now = svc.clock.now()
    async with svc.db.write() as tx:
        handover = await leavers.leave(
            tx, svc.presets, svc.display_zone, now, staff_id, by, reason or None
        )
        # Their shifts ahead are gone: the rota's gaps are told now, not at the daily check.
        await rota_gaps.tell_gaps(
            tx, svc.presets, now, svc.display_zone, f"after {handover.person.name} left"
        )
        return handover


async def leaver(step: Step, typed: Typed) -> Outcome:
    """/leaver <staff id> [reason]"""
    if not typed.args:
        raise Refusal(f"Who has left? {typed.usage}")
    staff_id, reason = typed.args[0].lower(), " ".join(typed.args[1:]).strip()
    db = step.svc.db
    person = await staff_store.get_staff(db, staff_id)
    if person is None:
        raise Refusal(await unknown_staff(db, staff_id))
    if person.id == step.staff.id:
        raise Refusal("You can't record yourself as a leaver: ask your manager or an admin.")
    if not await may_manage(db, step.staff, person):
        raise Refusal(
            f"Only an admin, or {person.name}'s manager or someone above them, can record "
            "that they have left."
        )
    try:
        handover = await record_leave(step.svc, staff_id, step.staff, reason)
    except leavers.NotALeaver as exc:
        raise Refusal(str(exc)) from None
    told = [t for t in handover.told if t != step.staff.id]
    text = handover.summary(step.staff.name, reason or None)
    text += (
        f"\nTold: {', '.join(told)}." if told else "\nNobody else to tell (no manager or admin)."
    )
    # It names children and duties: never into a group.
    return privately(step, text)


def privately(step: Step, text: str) -> Outcome:
    """Staff details and what they held go to the asker alone, never into a group chat."""
    if step.chat is not None and step.chat.is_group:
        return Outcome([Reply(text, private=True), Reply("Sent to you in a direct message.")])
    return Outcome([Reply(text, private=True)])


async def invite(step: Step, typed: Typed) -> Outcome:
    """/invite <staff id> [add-device]: a one-time code, to the asker by direct message only."""
    from handlers import enrolment

    if not typed.args:
        raise Refusal(f"Who for? {typed.usage}")
    staff_id = typed.args[0].lower()
    extra = [w.lower() for w in typed.args[1:]]
    if extra not in ([], ["add-device"]):
        raise Refusal(f"Only add-device may follow the staff id: {typed.usage}")
    db = step.svc.db
    person = await staff_store.get_staff(db, staff_id)
    if person is None:
        raise Refusal(await unknown_staff(db, staff_id))
    if not await may_manage(db, step.staff, person):
        raise Refusal(
            f"Only an admin, or {person.name}'s manager or someone above them, can invite them."
        )
    try:
        code, expires = await enrolment.create_invite(step.svc, staff_id, add_device=bool(extra))
    except ValueError as exc:
        raise Refusal(str(exc)) from None
    when = local_time(expires, step.svc.display_zone)
    replaces = (
        "It adds a device: their other accounts stay enrolled."
        if extra
        else "When they use it, it replaces any account they are enrolled on now."
    )
    text = (
        f"Invite code for {person.name} ({staff_id}): {code}\n"
        f"Give it to them in person or by phone. They send /start {code} to the bot in a "
        f"direct message. It works once and expires {when}. {replaces}"
    )
    return privately(step, text)


async def whoami(step: Step, typed: Typed) -> Outcome:
    """/whoami: who this account is bound as, and on which platforms (direct message)."""
    me = step.staff
    platforms = sorted({t for t, _ in await staff_store.identities_of(step.svc.db, me.id)})
    where = me.home or me.team or "the service"
    text = (
        f"You are {me.name} ({me.id}), {me.role.value.replace('_', ' ')} ({where}). "
        f"Enrolled on: {', '.join(platforms) or 'no chat platform'}."
    )
    if me.manager_id:
        manager = await staff_store.get_staff(step.svc.db, me.manager_id)
        text += f" Your manager: {manager.name if manager else me.manager_id}."
    text += " Not you? Tell your manager at once: they can revoke this account."
    return privately(step, text)


async def bulk_invites(
    svc: Services, team: str, add_device: bool = False
) -> list[tuple[Staff, str | None, str]]:
    """An invite for everyone still here whose home or team is `team`: (person, code or None,
    expiry or why not). ValueError if nobody is in that team."""
    from handlers import enrolment

    people = [
        s for s in await staff_store.list_staff(svc.db) if team in (s.home, s.team) and s.active
    ]
    if not people:
        known = sorted(
            {t for s in await staff_store.list_staff(svc.db) for t in (s.home, s.team) if t}
        )
        raise ValueError(
            f"nobody active is in {team!r}; the homes and teams are {', '.join(known)}"
        )
    out: list[tuple[Staff, str | None, str]] = []
    for person in sorted(people, key=lambda p: p.id):
        code, expires = await enrolment.create_invite(svc, person.id, add_device)
        out.append((person, code, local_time(expires, svc.display_zone)))
    return out
