"""A person's shifts and open duties as an iCalendar file for their own calendar
(`whereabouts rota ical --staff <id>`, `/myshifts` by direct message).

Shifts are what the person really holds: a colleague's cover over their shift takes that
span out, and their own covers are in. Duties name the child by reference and first name
only, and go to the person alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar

from config.role_words import on_rota
from handlers import rota_gaps
from handlers.context import Step
from handlers.messages import Outcome, Reply
from storage import child_store, duty_store, message_keys, outbox_store, report_store, rota_store
from storage.db import Reader, to_db_time
from storage.models import Recipient, Staff

BEHIND = timedelta(days=7)
AHEAD = timedelta(days=90)
DUTY_LENGTH = timedelta(minutes=15)
PRODID = "-//Whereabouts//rota//EN"


async def person_calendar(r: Reader, staff: Staff, now: datetime) -> tuple[bytes, int, int]:
    """(the file, how many shifts, how many duties)."""
    start, end = now - BEHIND, now + AHEAD
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Whereabouts: {staff.name}")
    shifts = 0
    roles = {s.role for s in await rota_store.shifts_between(r, start, end, staff_id=staff.id)}
    for role in sorted(roles):
        held = await rota_store.active_shifts_between(r, start, end, role)
        for seg in rota_gaps.segments(held, start, end):
            if staff.id not in seg.staff_ids:
                continue
            event = icalendar.Event()
            event.add("uid", f"shift-{role}-{to_db_time(seg.start)}-{staff.id}@whereabouts")
            event.add("dtstamp", now)
            event.add("dtstart", seg.start)
            event.add("dtend", seg.end)
            event.add("summary", f"On rota: {on_rota(role)}")
            cal.add_component(event)
            shifts += 1
    duties = 0
    for duty in await duty_store.open_duties(r, staff.id):
        child = await child_store.get_child(r, duty.child_id)
        label = child.label if child else ""
        event = icalendar.Event()
        event.add("uid", f"duty-{duty.id}@whereabouts")
        event.add("dtstamp", now)
        event.add("dtstart", duty.due_at)
        event.add("dtend", duty.due_at + DUTY_LENGTH)
        event.add("summary", f"Due: {duty.label} [{duty.rule_id}] {label}")
        event.add("description", f"{duty.action}\nClose it: /done {duty.label} <note>")
        cal.add_component(event)
        duties += 1
    return cal.to_ical(), shifts, duties


async def myshifts(step: Step) -> Outcome:
    """The asker's calendar file, by direct message through the outbox."""
    data, shifts, duties = await person_calendar(step.svc.db, step.staff, step.now)
    stamp = step.now.strftime("%Y%m%dT%H%M%S")
    filename = f"whereabouts-{step.staff.id}-{stamp[:8]}.ics"
    async with step.svc.db.write() as tx:
        attachment = await report_store.add_attachment(
            tx, filename, "text/calendar", data, step.now
        )
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.myshifts(step.staff.id, stamp),
            recipient=Recipient.staff(step.staff.id),
            text=(
                f"Your shifts ({shifts}) and open duties ({duties}) for your calendar: open the "
                "file to import it. Send /myshifts again after the rota changes."
            ),
            now=step.now,
            attachment_id=attachment,
        )
    text = f"Your calendar file ({shifts} shifts, {duties} open duties) is on its way by direct message."
    return Outcome([Reply(text)])
