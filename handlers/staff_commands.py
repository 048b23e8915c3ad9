"""Staff lifecycle from chat and the command line: /leaver, and `whereabouts staff leave`.

The rules of leaving (who is cut off, what is handed on) are in reminders/leavers.py; this
module checks who may record a leave and words the replies.
"""

from __future__ import annotations

import difflib

from handlers.arguments import Typed
from handlers.context import Services, Step
from handlers.messages import Outcome, Refusal, Reply
from reminders import leavers
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
        return await leavers.leave(
            tx, svc.presets, svc.display_zone, now, staff_id, by, reason or None
        )


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
    if told:
        text += f"\nTold: {', '.join(told)}."
    # It names children and duties: never into a group.
    return privately(step, text)


def privately(step: Step, text: str) -> Outcome:
    """Staff details and what they held go to the asker alone, never into a group chat."""
    if step.chat is not None and step.chat.is_group:
        return Outcome([Reply(text, private=True), Reply("Sent to you in a direct message.")])
    return Outcome([Reply(text, private=True)])
