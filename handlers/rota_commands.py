"""/rota, /cover, /swap (and its answer), /myshifts: the rota in chat.

/rota shows who holds each role now and over the next seven days, gaps marked. /cover puts
someone (yourself by default; a manager may name anyone) on a role for exactly a span. /swap
gives a day of yours on a role to a colleague of the same role (and takes one of theirs in
return if you name it); they confirm with a button or the same words typed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.role_words import on_rota
from handlers import rota, rota_gaps
from handlers.arguments import Typed
from handlers.context import Step
from handlers.messages import Outcome, Refusal
from handlers.timeparse import TimeParseError, parse_day, split_time_ahead
from reminders.formatting import local_time
from storage import message_keys, outbox_store, rota_store, staff_store
from storage.models import Button, Recipient, Role, Staff

WEEK = timedelta(days=7)
# Who may put someone else on the rota, and answer for the rota as a whole.
ROTA_MANAGERS = frozenset(
    {
        Role.TEAM_MANAGER,
        Role.OUT_OF_HOURS_MANAGER,
        Role.HEAD_OF_SERVICE,
        Role.ASSISTANT_DIRECTOR,
        Role.DIRECTOR,
        Role.ADMIN,
    }
)


def _zone(step: Step) -> ZoneInfo:
    return step.svc.display_zone


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


async def _names(step: Step) -> dict[str, str]:
    return {s.id: s.name for s in await staff_store.list_staff(step.svc.db)}


async def _staff(step: Step, word: str) -> Staff:
    staff = await staff_store.get_staff(step.svc.db, word.lower())
    if staff is not None and staff.active:
        return staff
    everyone = [s for s in await staff_store.list_staff(step.svc.db) if s.active]
    close = [s.id for s in everyone if word.lower() in s.id or word.lower() in s.name.lower()]
    hint = f" Did you mean {', '.join(close[:5])}?" if close else ""
    raise Refusal(f"I don't know staff '{word}'. Use their staff id.{hint}")


def _role(word: str, usage: str) -> str:
    role = rota.read_role(word)
    if role is None:
        raise Refusal(
            f"'{word}' is not a rota role: out_of_hours, out_of_hours_manager, police_liaison, "
            f"missing_coordinator. {usage}"
        )
    return role


# ---- /rota ------------------------------------------------------------------------------


async def show(step: Step, typed: Typed) -> Outcome:
    args = list(typed.args)
    zone = _zone(step)
    roles: list[str] | None = None
    if args and rota.read_role(args[0]) is not None:
        roles = [_role(args.pop(0), typed.usage)]
    if args:
        day = parse_day(" ".join(args), step.now, zone)
        start = _midnight(day, zone)
        end = _midnight(day + timedelta(days=1), zone)
        heading = f"Rota for {day:%a %d %b}"
    else:
        start = step.now
        end = (step.now.astimezone(zone) + WEEK).astimezone(UTC)  # the same wall time
        heading = f"Rota now ({local_time(step.now, zone)}) and the next 7 days"
    db = step.svc.db
    presets = await rota_gaps.areas_presets(db, step.svc.presets)
    if roles is None:
        rostered = await rota_store.rota_roles(db)
        roles = list(dict.fromkeys([*rota_gaps.needed_roles(presets), *rostered]))
    names = await _names(step)
    gaps = await rota_gaps.gaps(db, step.svc.presets, start, end, roles)
    lines = [heading + " (GAP: a role the alerts need has nobody):"]
    for role in roles:
        shifts = await rota_store.active_shifts_between(db, start, end, role)
        held = [names.get(s, s) for s in await rota_store.on_rota(db, role, step.now)]
        now_text = f" now {', '.join(held)}" if start <= step.now < end and held else ""
        lines.append(f"{on_rota(role)}:{now_text}")
        for seg in rota_gaps.segments(shifts, start, end):
            span = rota.span_text(seg.start, seg.end, zone)
            if seg.empty:
                missing = [
                    g for g in gaps if g.role == role and g.start < seg.end and g.end > seg.start
                ]
                for g in missing:
                    lines.append(f"   GAP {rota.span_text(g.start, g.end, zone)}: nobody")
                if not missing:
                    lines.append(f"   {span}: nobody (not needed then)")
            else:
                lines.append(f"   {span}: {', '.join(names.get(s, s) for s in seg.staff_ids)}")
    lines.append(
        "/cover <role> <from> <to> puts you on; /swap <role> <day> <staff id> swaps a day."
    )
    return Outcome.say("\n".join(lines))


# ---- /cover -----------------------------------------------------------------------------


def _span(args: list[str], step: Step, usage: str) -> tuple[datetime, datetime, list[str]]:
    zone = _zone(step)
    try:
        start, rest = split_time_ahead(args, step.now, zone)
        if not rest:
            raise Refusal(f"Give when the cover ends too. {usage}")
        end, rest = split_time_ahead(rest, start, zone, step.now)
    except TimeParseError as error:
        raise Refusal(f"{error} {usage}") from None
    if start < step.now - timedelta(minutes=5):
        raise Refusal(f"The cover starts in the past ({local_time(start, zone)}). {usage}")
    if end <= start:
        raise Refusal(
            f"The cover ends ({local_time(end, zone)}) before it starts "
            f"({local_time(start, zone)}): give the start, then the end. {usage}"
        )
    return start, end, rest


async def cover(step: Step, typed: Typed) -> Outcome:
    if len(typed.args) < 3:
        raise Refusal(f"Usage: {typed.usage}")
    role = _role(typed.args[0], typed.usage)
    start, end, rest = _span(typed.args[1:], step, typed.usage)
    who = await _staff(step, rest[0]) if rest else step.staff
    if who.id != step.staff.id and step.staff.role not in ROTA_MANAGERS:
        raise Refusal(
            "Only a manager may put someone else on the rota. To cover it yourself: "
            f"/cover {typed.args[0]} <from> <to>"
        )
    if who.role.value != role and step.staff.role not in ROTA_MANAGERS:
        raise Refusal(
            f"{who.name} is {who.role.value.replace('_', ' ')}, not {on_rota(role)}: "
            "ask a manager to arrange the cover."
        )
    zone = _zone(step)
    async with step.svc.db.write() as tx:
        change = await rota.add_cover(
            tx, role, who.id, start, end, now=step.now, zone=zone, actor=step.staff.id,
            source="chat",
        )  # fmt: skip
        if who.id != step.staff.id:
            await outbox_store.enqueue(
                tx,
                idem_key=message_keys.rota_put_on(change.shift.id, who.id),
                recipient=Recipient.staff(who.id),
                text=(
                    f"{step.staff.name} has put you on {on_rota(role)}, "
                    f"{rota.span_text(start, end, zone)}. /rota shows the rota."
                ),
                now=step.now,
            )
        await rota_gaps.tell_gaps(
            tx, step.svc.presets, step.now, zone, f"after {step.staff.name}'s /cover"
        )
    names = await _names(step)
    replaced = ", ".join(names.get(s, s) for s in change.displaced)
    told = (
        f" {replaced} {'was' if len(change.displaced) == 1 else 'were'} told." if replaced else ""
    )
    subject = "You are" if who.id == step.staff.id else f"{who.name} is"
    instead = f" instead of {replaced}" if replaced else ""
    return Outcome.say(
        f"{subject} on {on_rota(role)}, {rota.span_text(start, end, zone)}{instead}.{told}"
    )


# ---- /swap ------------------------------------------------------------------------------


async def _day_shifts(
    step: Step, role: str, staff_id: str, day: date
) -> list[tuple[datetime, datetime]]:
    """The spans of `day` a person holds `role`: shifts starting that day, whole (a night
    shift runs into the next morning); else the part of that day of a longer shift."""
    zone = _zone(step)
    start, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    shifts = await rota_store.shifts_between(step.svc.db, start, end, role=role, staff_id=staff_id)
    starting = [(s.starts_at, s.ends_at) for s in shifts if start <= s.starts_at < end]
    if starting:
        return starting
    return [(max(s.starts_at, start), min(s.ends_at, end)) for s in shifts]


async def swap(step: Step, typed: Typed) -> Outcome:
    args = typed.args
    if args and args[0].lower() in ("accept", "decline"):
        return await _answer(step, args)
    if len(args) < 3:
        raise Refusal(f"Usage: {typed.usage}")
    role = _role(args[0], typed.usage)
    zone = _zone(step)
    day = parse_day(args[1], step.now, zone)
    other = await _staff(step, args[2])
    their_day = parse_day(args[3], step.now, zone) if len(args) > 3 else None
    if other.id == step.staff.id:
        raise Refusal("Swap with a colleague, not yourself.")
    if other.role != step.staff.role:
        raise Refusal(
            f"{other.name} is {other.role.value.replace('_', ' ')} and you are "
            f"{step.staff.role.value.replace('_', ' ')}: swap with a colleague of the same role."
        )
    mine = await _day_shifts(step, role, step.staff.id, day)
    if not mine or all(e <= step.now for _, e in mine):
        raise Refusal(
            f"You have no {on_rota(role)} shift still to come on {day:%a %d %b}. "
            "/rota shows the rota."
        )
    if their_day is not None and not await _day_shifts(step, role, other.id, their_day):
        raise Refusal(f"{other.name} has no {on_rota(role)} shift on {their_day:%a %d %b}.")
    async with step.svc.db.write() as tx:
        swap_id = await rota_store.ask_swap(
            tx, role, step.staff.id, other.id, day.isoformat(),
            their_day.isoformat() if their_day else None, step.now,
        )  # fmt: skip
        spans = "; ".join(rota.span_text(a, b, zone) for a, b in mine)
        back = f", and you give them yours on {their_day:%a %d %b}" if their_day is not None else ""
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.rota_swap(swap_id, "ask"),
            recipient=Recipient.staff(other.id),
            text=(
                f"{step.staff.name} asks you to take their {on_rota(role)} shift "
                f"{spans}{back}. Accept: /swap accept {swap_id}. Decline: /swap decline {swap_id}."
            ),
            now=step.now,
            buttons=(
                Button("Accept the swap", f"/swap accept {swap_id}"),
                Button("Decline", f"/swap decline {swap_id}"),
            ),
        )
    return Outcome.say(
        f"Asked {other.name} to take your {on_rota(role)} shift on {day:%a %d %b}. "
        "Nothing changes until they accept; you will hear their answer."
    )


async def _answer(step: Step, args: list[str]) -> Outcome:
    accept = args[0].lower() == "accept"
    if len(args) < 2 or not args[1].isdigit():
        raise Refusal("Which swap? /swap accept <number> (the number is in the request).")
    swap_id = int(args[1])
    db = step.svc.db
    request = await rota_store.get_swap(db, swap_id)
    if request is None or request.asked_of != step.staff.id:
        raise Refusal(f"There is no swap {swap_id} asked of you.")
    if request.state != "asked":
        raise Refusal(f"Swap {swap_id} was already {request.state}.")
    zone = _zone(step)
    asker = await staff_store.get_staff(db, request.asked_by)
    asker_name = asker.name if asker else request.asked_by
    async with db.write() as tx:
        if not await rota_store.answer_swap(
            tx, swap_id, "accepted" if accept else "declined", step.now
        ):
            raise Refusal(f"Swap {swap_id} was already answered.")
        if accept:
            mine = await _day_shifts(
                step, request.role, request.asked_by, date.fromisoformat(request.day)
            )
            theirs = (
                await _day_shifts(
                    step, request.role, step.staff.id, date.fromisoformat(request.their_day)
                )
                if request.their_day
                else []
            )
            live = [(a, b) for a, b in mine if b > step.now]
            if not live:
                raise Refusal(
                    f"{asker_name}'s shift on that day has ended or gone; nothing was changed."
                )
            moves = [(step.staff.id, a, b) for a, b in live]
            moves += [(request.asked_by, a, b) for a, b in theirs if b > step.now]
            for holder, a, b in moves:
                await rota.add_cover(
                    tx, request.role, holder, max(a, step.now), b, now=step.now, zone=zone,
                    actor=step.staff.id, source="chat", action="swap", note=f"swap {swap_id}",
                )  # fmt: skip
            await rota_gaps.tell_gaps(
                tx, step.svc.presets, step.now, zone, f"after {step.staff.name}'s /swap"
            )
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.rota_swap(swap_id, "answer"),
            recipient=Recipient.staff(request.asked_by),
            text=(
                f"{step.staff.name} {'accepted' if accept else 'declined'} your swap of "
                f"{on_rota(request.role)} on {date.fromisoformat(request.day):%a %d %b}."
                + (" The rota is changed." if accept else " The rota is as it was.")
            ),
            now=step.now,
        )
    if accept:
        return Outcome.say(
            f"Swap {swap_id} done: you are on {on_rota(request.role)} "
            f"{date.fromisoformat(request.day):%a %d %b}. {asker_name} was told."
        )
    return Outcome.say(f"Swap {swap_id} declined; {asker_name} was told.")


# ---- /myshifts --------------------------------------------------------------------------


async def myshifts(step: Step, typed: Typed) -> Outcome:
    from handlers import rota_calendar  # icalendar is loaded only when a file is made

    return await rota_calendar.myshifts(step)
