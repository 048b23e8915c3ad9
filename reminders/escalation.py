"""Escalation ladders: tell the right people now, and climb on timers until a person takes it.

Every function here runs inside the caller's write transaction, so the episode change, the
climb's next position and the messages it queues commit together. Message keys are
derived from (climb, step, repeat, recipient): running the same step twice after a crash
queues nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from config import rule_ids
from config.presets import Ladder, Preset
from config.rule_effects import rule_effects
from config.vocabulary import STARTS, Start, Trigger, require_all
from reminders import follow_ups, reach, routing
from reminders.access import ACTIONS
from reminders.conditions import Situation, holds
from reminders.formatting import duration, local_time, profile_text, short_time
from reminders.trigger_plan import TriggerPlan, overnight_at
from storage import (
    child_store,
    episode_store,
    escalation_store,
    message_keys,
    outbox_store,
    reach_store,
    rota_store,
    staff_store,
)
from storage.db import Tx
from storage.message_keys import ClimbSend, MessageKey
from storage.models import (
    Button,
    Child,
    Episode,
    EpisodeState,
    Escalation,
    EscalationState,
    MessageUrgency,
    Recipient,
    RecipientKind,
    Role,
    Staff,
)
from storage.snapshot import ClimbContext, ClimbStep, LadderSnapshot

log = logging.getLogger(__name__)

# Timeline kinds that count as "an update" for the review and the acknowledger's check.
UPDATE_KINDS = ("update", "concern", "police_report", "police_update", "away", "reported_again")


@dataclass(frozen=True)
class Moment:
    tx: Tx
    preset: Preset
    now: datetime


# ---- starting, stopping, resetting --------------------------------------------------


async def trigger(
    tx: Tx,
    preset: Preset,
    now: datetime,
    name: Trigger,
    episode: Episode,
    child: Child,
    actor: Staff,
    details: str = "",
) -> None:
    """Something happened to the episode: stop, reset or start the ladders that listen for it."""
    at = Moment(tx, preset, now)
    held = await _held(tx, episode)
    for esc in await escalation_store.live_escalations(tx, episode.id):
        spec = esc.context.ladder
        if name == "update" and esc.state is EscalationState.CONFIRMING:
            # an update is the acknowledger's answer to "still on it?"
            await escalation_store.update_escalation(
                tx,
                esc,
                state=EscalationState.ACKED,
                next_at=now + spec.review_time,
            )
        elif name in spec.stop_on:
            await escalation_store.update_escalation(
                tx, esc, state=EscalationState.STOPPED, next_at=None
            )
        elif name in spec.reset_on:
            await escalation_store.update_escalation(
                tx,
                esc,
                state=EscalationState.ACTIVE,
                step=0,
                repeat=0,
                cycle=esc.cycle + 1,  # new keys: the next nags are new messages
                next_at=now + spec.interval_time,
            )
    for ladder_name, ladder in preset.ladders.items():
        if ladder.trigger == name and holds(ladder.when, Situation(preset, now, episode, child)):
            if held and ladder.needs_ack and ladder.when_held == "update":
                await _update_holder(at, name, ladder, episode, child, actor, details, held)
                if await _held(tx, episode):
                    continue  # their climb carries on; no fresh alert
                await _start(at, ladder_name, ladder, episode, child, actor, details, held)
                continue
            await _start(at, ladder_name, ladder, episode, child, actor, details)


async def _held(tx: Tx, episode: Episode) -> tuple[str, datetime] | None:
    """Who holds the episode (acknowledged a live alert about it), and since when."""
    for esc in await escalation_store.live_escalations(tx, episode.id):
        if esc.needs_ack and esc.acked_by and esc.acked_at and esc.state in _HOLDING:
            return esc.acked_by, esc.acked_at
    return None


_HOLDING = (EscalationState.ACKED, EscalationState.CONFIRMING)


async def tell_holder(
    tx: Tx,
    preset: Preset,
    now: datetime,
    event: str,
    episode: Episode,
    child: Child,
    actor: Staff,
    what: str,
) -> bool:
    """The episode's holder (if not the actor) hears of a change no ladder answers, in a
    line: "Update on C-0042 Jay, which you hold: …". True if someone was told."""
    held = await _held(tx, episode)
    if held is None or held[0] == actor.id:
        return False
    await outbox_store.enqueue(
        tx,
        idem_key=message_keys.held_update(episode.id, event, now, Recipient.staff(held[0])),
        recipient=Recipient.staff(held[0]),
        text=f"Update on {child.label}, which you hold: {what}.",
        rules=(rule_ids.RECORD,),
        now=now,
        episode_id=episode.id,
        child_id=child.id,
    )
    return True


async def _update_holder(
    at: Moment,
    name: Trigger,
    ladder: Ladder,
    episode: Episode,
    child: Child,
    actor: Staff,
    details: str,
    held: tuple[str, datetime],
) -> None:
    """The holder hears of the change, in a line, instead of a fresh alert."""
    holder = held[0]
    if holder == actor.id:
        return  # they typed it
    _, context = climb_snapshot(ladder, timedelta(0), actor=actor.name, details=_short(details))
    what = ladder.update.format(**_values(at, context, episode, child))
    await outbox_store.enqueue(
        at.tx,
        idem_key=message_keys.held_update(episode.id, name, at.now, Recipient.staff(holder)),
        recipient=Recipient.staff(holder),
        text=f"Update on {child.label}, which you hold: {what}.",
        rules=(_rule_of(at, ladder.rule, ladder.rule_out_of_hours),),
        now=at.now,
        episode_id=episode.id,
        child_id=child.id,
        urgency=MessageUrgency.of(ladder.urgent),
    )


DETAILS_IN_ALERTS = 500  # chat platforms cap a message (Telegram 4096); the timeline has it all


def _short(details: str) -> str:
    if len(details) <= DETAILS_IN_ALERTS:
        return details
    return details[:DETAILS_IN_ALERTS].rstrip() + "… (more in /timeline)"


def climb_snapshot(
    ladder: Ladder,
    interval: timedelta,
    shorten: Callable[[timedelta], timedelta] = lambda w: w,
    *,
    actor: str = "",
    details: str = "",
    cutoff: str = "",
    never_alert: tuple[str, ...] = (),
) -> tuple[tuple[ClimbStep, ...], ClimbContext]:
    """The steps and context a climb carries: the ladder as it stood when the climb began,
    so a preset changed later does not change a climb already under way."""
    steps = tuple(
        ClimbStep(notify=step.notify, wait=shorten(step.wait).total_seconds(), repeat=step.repeat)
        for step in ladder.steps
    )
    context = ClimbContext(
        actor=actor,
        details=details,
        cutoff=cutoff,
        never_alert=never_alert,
        ladder=LadderSnapshot(
            rule=ladder.rule,
            rule_out_of_hours=ladder.rule_out_of_hours,
            message=ladder.message,
            include_profile=ladder.include_profile,
            keep_on_found=ladder.keep_on_found,
            stop_on=ladder.stop_on,
            reset_on=ladder.reset_on,
            interval=interval.total_seconds(),
            review=(ladder.review or interval).total_seconds(),
            urgent=ladder.urgent,
        ),
    )
    return steps, context


# When a climb's first send is due, and the cut-off its messages name, by the ladder's
# `start` (config.vocabulary.Start); None: the climb does not start.
FirstSend = Callable[
    [Moment, Episode, TriggerPlan, timedelta], tuple[datetime, datetime | None] | None
]


def _first_at_report_by(
    at: Moment, episode: Episode, plan: TriggerPlan, interval: timedelta
) -> tuple[datetime, datetime | None] | None:
    cutoff = plan.report_by_after(episode.last_seen_at, at.preset.zone)
    return None if cutoff is None else (max(cutoff, at.now), cutoff)


def _first_at_cutoff(
    at: Moment, episode: Episode, plan: TriggerPlan, interval: timedelta
) -> tuple[datetime, datetime | None]:
    send = overnight_at(at.preset, episode.last_seen_at, at.now)
    # The message names the area's cut-off ("It is past 23:00"), not when it is sent: a child
    # reported at 03:19 is past 23:00, not "past 03:19".
    zone = at.preset.zone
    cutoff = datetime.combine(send.astimezone(zone).date(), at.preset.absence.overnight_cutoff)
    return send, cutoff.replace(tzinfo=zone)


FIRST_SEND: dict[Start, FirstSend] = {
    "now": lambda at, episode, plan, interval: (at.now, None),
    "review_interval": lambda at, episode, plan, interval: (at.now + interval, None),
    "overnight_cutoff": _first_at_cutoff,
    "report_by": _first_at_report_by,
    "next_office_open": lambda at, episode, plan, interval: (
        at.preset.calendar.next_office_open(at.now),
        None,
    ),
}
require_all("ladder starts", STARTS, FIRST_SEND)


async def _start(
    at: Moment,
    name: str,
    ladder: Ladder,
    episode: Episode,
    child: Child,
    actor: Staff,
    details: str,
    held: tuple[str, datetime] | None = None,
) -> None:
    """Start a climb; `held`: the episode's holder takes it over at once (when_held: update)."""
    plan = TriggerPlan.of(child)
    interval = plan.review_interval or at.preset.absence.review_interval
    starts = FIRST_SEND[ladder.start](at, episode, plan, interval)
    if starts is None:
        return
    first, cutoff_at = starts
    for live in await escalation_store.live_escalations(at.tx, episode.id):
        if live.ladder == name:
            return  # already climbing; a second report adds to it (RET-ONEOPEN)
    steps, context = climb_snapshot(
        ladder,
        interval,
        plan.shorten,
        actor=actor.name,
        details=_short(details),
        cutoff=short_time(cutoff_at, at.preset.zone) if cutoff_at else "",
        # someone who takes alerts is not alerted about what they did themselves
        never_alert=(actor.id,) if actor.role in ACTIONS["ack"] else (),
    )
    esc_id = await escalation_store.insert_escalation(
        at.tx,
        episode_id=episode.id,
        child_id=child.id,
        ladder=name,
        rule_id=ladder.rule,
        needs_ack=ladder.needs_ack,
        context=context,
        steps=steps,
        next_at=first,
        started_at=first,  # "first alert" in later messages means the first send
    )
    if held is not None:
        esc = await escalation_store.get_escalation(at.tx, esc_id)
        assert esc is not None
        await escalation_store.update_escalation(
            at.tx,
            esc,
            state=EscalationState.ACKED,
            acked_by=held[0],
            acked_at=held[1],
            next_at=at.now + esc.context.ladder.review_time,
        )
        return
    if first <= at.now:
        esc = await escalation_store.get_escalation(at.tx, esc_id)
        assert esc is not None
        await fire(at.tx, at.preset, at.now, esc, episode, child)


async def defer_broken(tx: Tx, escalation_id: int, now: datetime, wait: timedelta) -> None:
    """A climb that raised while firing: try again later, and make sure a person hears of it."""
    esc = await escalation_store.get_escalation(tx, escalation_id)
    if esc is None:
        return
    await escalation_store.update_escalation(tx, esc, next_at=now + wait)
    for admin in await staff_store.staff_with_role(tx, Role.ADMIN):
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.climb_broken(esc.id, esc.version, admin.id),
            recipient=Recipient.staff(admin.id),
            text=f"An alert timer for episode #{esc.episode_id} failed to fire and "
            f"will retry in {duration(wait)}. Check the bot's log and phone the duty team.",
            rules=(esc.rule_id,),
            now=now,
            episode_id=esc.episode_id,
            child_id=esc.child_id,
        )


async def stop_all(tx: Tx, episode: Episode, *, finalised: bool = False) -> None:
    """Found: every climb stops except those the protocol keeps (MIS-NEXTDAY). Finalised: all."""
    for esc in await escalation_store.live_escalations(tx, episode.id):
        if finalised or not esc.context.ladder.keep_on_found:
            await escalation_store.update_escalation(
                tx, esc, state=EscalationState.STOPPED, next_at=None
            )


# ---- firing (the sweeper calls this for every due climb) ------------------------------


async def fire(
    tx: Tx, preset: Preset, now: datetime, esc: Escalation, episode: Episode, child: Child
) -> None:
    at = Moment(tx, preset, now)
    if esc.state is EscalationState.ACKED:
        await _check_acknowledger(at, esc, episode, child)
        return
    if esc.state is EscalationState.CONFIRMING:  # the acknowledger did not confirm: climb again
        step, _ = _next_step_position(esc)
        esc = await escalation_store.update_escalation(
            tx, esc, state=EscalationState.ACTIVE, step=step, repeat=0
        )
    if esc.state is EscalationState.ACTIVE:
        await _send_current(at, esc, episode, child)


def _next_step_position(esc: Escalation) -> tuple[int, int]:
    """Where a climb resumes: the next step, unless the current one has not been sent at all."""
    return (esc.step + 1, 0) if esc.repeat > 0 else (esc.step, 0)


async def _send_current(
    at: Moment,
    esc: Escalation,
    episode: Episode,
    child: Child,
    why: str | None = None,
    exclude: tuple[str, ...] = (),
) -> None:
    """Send the climb's pending step. `why`: how the later steps' messages begin (what
    happened); `exclude`: people not to alert (besides the holder and `never_alert`)."""
    step, repeat = esc.step, esc.repeat
    # Never escalated to about an alert they hold, nor alerted about what they did.
    skip = {Recipient.staff(s) for s in (*esc.context.never_alert, *exclude, esc.acked_by) if s}
    gapped = False
    while True:
        if step >= len(esc.steps):
            if esc.needs_ack and await reach_store.climb_send_count(at.tx, esc.id):
                ended = (
                    f"{await _why_to_you(at, esc, episode, end=True)}, and nobody is left on the "
                    f"escalation ladder for {child.label}"
                    if esc.acked_by
                    else f"Nobody has acknowledged {child.label} after the whole escalation ladder"
                )
                await _tell_supervisors(
                    at,
                    esc,
                    episode,
                    child,
                    lambda to: message_keys.climb_exhausted(esc.id, esc.version, to),
                    f"{ended}. Phone the people on duty now: /status {child.ref}",
                )
            elif esc.needs_ack and gapped:
                await _tell_supervisors(
                    at,
                    esc,
                    episode,
                    child,
                    lambda to: message_keys.climb_exhausted(esc.id, esc.version, to),
                    f"Nobody could be alerted about {child.label}: every step of the alert had "
                    f"nobody. The reporter has been told to phone the emergency duty team; "
                    f"phone them too: /status {child.ref}",
                )
            await escalation_store.update_escalation(
                at.tx, esc, state=EscalationState.DONE, step=step, next_at=None
            )
            return
        spec = esc.steps[step]
        resolved = await routing.resolve(
            at.tx, spec.notify, preset=at.preset, child=child, episode=episode, now=at.now
        )
        if resolved.gaps:
            gapped = True
            await _report_gaps(at, esc, episode, child, step, repeat, resolved.gaps)
        recipients = [r for r in resolved.recipients if r not in skip]
        if not recipients:
            step, repeat = step + 1, 0  # skipped at once, not waited out
            continue
        for recipient in recipients:
            await _queue(at, esc, episode, child, step, repeat, recipient, why)
        last_send = step == len(esc.steps) - 1 and repeat >= spec.repeat
        if last_send and not esc.needs_ack:
            await escalation_store.update_escalation(
                at.tx, esc, state=EscalationState.DONE, step=step, next_at=None
            )
            return
        nxt = (step, repeat + 1) if repeat < spec.repeat else (step + 1, 0)
        await escalation_store.update_escalation(
            at.tx,
            esc,
            step=nxt[0],
            repeat=nxt[1],
            next_at=at.now + spec.wait_time,
        )
        return


def _urgency(at: Moment, esc: Escalation) -> MessageUrgency:
    """A climb's messages are as urgent as its ladder (as copied when the climb began; one
    begun before the copy carried it reads the area's ladder of that name). A ladder no
    longer in the preset: urgent, as a late alert costs more than an early summary."""
    urgent = esc.context.ladder.urgent
    if urgent is None:
        ladder = at.preset.ladders.get(esc.ladder)
        urgent = ladder.urgent if ladder is not None else True
    return MessageUrgency.of(urgent)


def _rule(at: Moment, esc: Escalation) -> str:
    return _rule_of(at, esc.rule_id, esc.context.ladder.rule_out_of_hours)


def _rule_of(at: Moment, rule: str, rule_out_of_hours: str | None) -> str:
    if rule_out_of_hours and not at.preset.calendar.in_office_hours(at.now):
        return rule_out_of_hours
    return rule


def _render(at: Moment, esc: Escalation, episode: Episode, child: Child) -> str:
    return esc.context.ladder.message.format(**_values(at, esc.context, episode, child))


def _values(at: Moment, context: ClimbContext, episode: Episode, child: Child) -> dict[str, str]:
    esc = context
    tz = at.preset.zone
    since_from = episode.last_seen_at
    if esc.ladder.reset_on:  # a review ladder counts from the last activity
        since_from = at.now - esc.ladder.interval_time
    return {
        "child": child.label,
        "ref": child.ref,
        "actor": esc.actor,
        "details": esc.details or "no details given",
        "last_seen": local_time(episode.last_seen_at, tz),
        "since": duration(at.now - since_from),
        "grade": episode.police_grade.value if episode.police_grade else "not given",
        "cutoff": esc.cutoff,
        "police_ref": episode.police_ref or "not given",
        "status": (
            f"found {local_time(episode.found_at, tz)}" if episode.found_at else "still missing"
        ),
    }


async def _queue(
    at: Moment,
    esc: Escalation,
    episode: Episode,
    child: Child,
    step: int,
    repeat: int,
    recipient: Recipient,
    why: str | None = None,
) -> None:
    rule = _rule(at, esc)
    text = _render(at, esc, episode, child)
    if esc.needs_ack and ((step, repeat) != (0, 0) or esc.acked_by):
        since = local_time(esc.started_at, at.preset.zone)
        before = await reach_store.first_send_to(at.tx, esc.id, esc.cycle, recipient)
        news = why or (await _why_to_you(at, esc, episode) if esc.acked_by else None)
        if before is not None:  # they have had the full text: a short repeat, with any news
            text = (
                f"{news}: {child.label}."
                if news
                else (f"Still waiting: {child.label} (first alert {since}).")
            )
        else:
            text = f"{news or await _why_to_you(at, esc, episode)}: {text}"
    buttons: tuple[Button, ...] = ()
    if esc.needs_ack:
        text, buttons = await _answers(at, recipient, child, text)
    if esc.context.ladder.include_profile and recipient.kind is RecipientKind.STAFF:
        text += "\n" + profile_text(child)  # direct messages only, never a group chat
    key = message_keys.climb_send(ClimbSend(esc.id, step, repeat, recipient), esc.cycle)
    await outbox_store.enqueue(
        at.tx,
        idem_key=key,
        recipient=recipient,
        text=text,
        rules=(rule,),
        now=at.now,
        episode_id=episode.id,
        child_id=child.id,
        buttons=buttons,
        due_at=min(esc.next_at or at.now, at.now),
        urgency=_urgency(at, esc),
    )
    if recipient.kind is RecipientKind.STAFF:  # their rules may add a text or an e-mail later
        await follow_ups.alert_queued(at.tx, at.preset, at.now, esc, recipient.ident, key.text)


async def _why_to_you(at: Moment, esc: Escalation, episode: Episode, end: bool = False) -> str:
    """How a later step's message begins: what happened, in true words (`end`: the ladder
    has run out, so nothing "comes to you")."""
    tz = at.preset.zone
    since = local_time(esc.started_at, tz)
    if esc.acked_by and esc.acked_at:
        holder = await staff_store.get_staff(at.tx, esc.acked_by)
        name = holder.name if holder else esc.acked_by
        last = await episode_store.last_event_at(at.tx, episode.id, UPDATE_KINDS)
        base = max(esc.acked_at, last) if last else esc.acked_at
        took = (
            f"{name} took this at {short_time(esc.acked_at, tz)} and has not confirmed since "
            f"{short_time(base, tz)}"
        )
        return took if end else f"{took}; it comes to you now (first alert {since})"
    return f"Escalated to you: nobody has taken this yet (first alert {since})"


async def _answers(
    at: Moment, recipient: Recipient, child: Child, text: str
) -> tuple[str, tuple[Button, ...]]:
    """What the recipient can do about an alert: take it, or (carers, team chats) report on it.

    Each button is a typed command, so every transport offers the same actions.
    """
    ref = child.ref
    report = (
        Button("Still absent", f"/update {ref} still absent"),
        Button("Reported to police", f"/police {ref}"),
        Button("Found", f"/found {ref}"),
    )
    person = (
        await staff_store.get_staff(at.tx, recipient.ident)
        if recipient.kind is RecipientKind.STAFF
        else None
    )
    if person is not None and person.role in ACTIONS["ack"]:
        take = Button("I've got it", f"/ack {ref}")
        return f"{text}\nTake it: /ack {ref}", (take, *report, Button("Call me", f"/callme {ref}"))
    return f"{text}\nTell us what is happening: /update {ref} …", report


async def _report_gaps(
    at: Moment,
    esc: Escalation,
    episode: Episode,
    child: Child,
    step: int,
    repeat: int,
    gaps: list[str],
) -> None:
    names = ", ".join(gaps)
    await _tell_supervisors(
        at,
        esc,
        episode,
        child,
        lambda to: message_keys.climb_gap(esc.id, esc.cycle, step, to),
        f"Nobody to tell for {child.label}: no {names}. That step of the alert was skipped; "
        "check the rota and the child's allocation.",
    )


async def _tell_supervisors(
    at: Moment,
    esc: Escalation,
    episode: Episode,
    child: Child,
    key: Callable[[Recipient], MessageKey],
    text: str,
    also: tuple[Recipient, ...] = (),
) -> None:
    """The out-of-hours manager on the rota and the admins hear about gaps and dead ends.

    With neither, the child's managers hear it instead (and the reporter, unless this is
    their own report, whose reply says so), and it is logged at ERROR."""
    targets = [
        Recipient.staff(s) for s in await rota_store.on_rota(at.tx, "out_of_hours_manager", at.now)
    ]
    targets += [Recipient.staff(s.id) for s in await staff_store.staff_with_role(at.tx, Role.ADMIN)]
    if not targets:
        targets = await reach.managers_in_scope(at.tx, child, episode)
        if not reach.same_second(at.now, esc.started_at):  # a timer: no reply says so
            targets.append(Recipient.staff(episode.reported_by))
        log.error(
            "escalation %s: nobody on the out-of-hours manager rota and no admins; "
            "told %d of the child's managers and the reporter instead",
            esc.id,
            len(targets),
        )
        text = (
            f"{text}\nNobody is on the out-of-hours manager rota and there is no admin, so "
            f"you are told as one of {child.label}'s managers. {reach.phone_line(at.preset)}"
        )
    targets += also
    rule = _rule(at, esc)
    for recipient in dict.fromkeys(targets):
        await outbox_store.enqueue(
            at.tx,
            idem_key=key(recipient),
            recipient=recipient,
            text=text,
            rules=(rule,),
            now=at.now,
            episode_id=episode.id,
            child_id=child.id,
            urgency=_urgency(at, esc),
        )


# ---- acknowledgement ----------------------------------------------------------------


async def _check_acknowledger(at: Moment, esc: Escalation, episode: Episode, child: Child) -> None:
    """An acknowledged alert with no update by the review interval: ask the acknowledger."""
    if episode.state is not EpisodeState.OPEN:
        # found (MIS-NEXTDAY acknowledged after the return): telling was the whole duty
        await escalation_store.update_escalation(
            at.tx, esc, state=EscalationState.DONE, next_at=None
        )
        return
    interval = esc.context.ladder.review_time
    assert esc.acked_at is not None
    last = await episode_store.last_event_at(at.tx, episode.id, UPDATE_KINDS)
    base = max(esc.acked_at, last) if last else esc.acked_at
    if base + interval > at.now:
        await escalation_store.update_escalation(at.tx, esc, next_at=base + interval)
        return
    climb_at = at.now + at.preset.absence.confirm_wait
    rule = _rule(at, esc)
    await outbox_store.enqueue(
        at.tx,
        idem_key=message_keys.climb_confirm(esc.id, esc.version),
        recipient=Recipient.staff(esc.acked_by or episode.reported_by),
        text=(
            f"You took {child.label} at {short_time(esc.acked_at, at.preset.zone)}; "
            f"no update since {short_time(base, at.preset.zone)}. Still on it? /ack {child.ref} to confirm, or "
            f"/update {child.ref} <what is happening>. Otherwise it climbs again at "
            f"{short_time(climb_at, at.preset.zone)}."
        ),
        rules=(rule,),
        now=at.now,
        episode_id=episode.id,
        child_id=child.id,
        buttons=(Button("Still on it", f"/ack {child.ref}"),),
        urgency=_urgency(at, esc),
    )
    await escalation_store.update_escalation(
        at.tx, esc, state=EscalationState.CONFIRMING, next_at=climb_at
    )


async def _revive_exhausted(at: Moment, episode: Episode, who: Staff) -> dict[str, datetime]:
    """A late /ack after a ladder ran out still takes it, and the review checks start again."""
    if episode.state is not EpisodeState.OPEN:
        return {}
    rules: dict[str, datetime] = {}
    for esc in await escalation_store.escalations_for_episode(at.tx, episode.id):
        if esc.state is EscalationState.DONE and esc.needs_ack and esc.step >= len(esc.steps):
            live = {e.ladder for e in await escalation_store.live_escalations(at.tx, episode.id)}
            if esc.ladder in live:
                continue
            check = at.now + esc.context.ladder.review_time
            await escalation_store.update_escalation(
                at.tx,
                esc,
                state=EscalationState.ACKED,
                acked_by=who.id,
                acked_at=at.now,
                next_at=check,
            )
            rules[_rule(at, esc)] = check
    return rules


async def holders(tx: Tx, episode: Episode) -> list[tuple[str, datetime]]:
    """Who has acknowledged the live climbs on this episode, and when."""
    result = []
    for esc in await escalation_store.live_escalations(tx, episode.id):
        if esc.state is EscalationState.ACKED and esc.acked_by and esc.acked_at:
            person = await staff_store.get_staff(tx, esc.acked_by)
            entry = (person.name if person else esc.acked_by, esc.acked_at)
            if entry not in result:
                result.append(entry)
    return result


def _has_fired(esc: Escalation) -> bool:
    """A climb that has alerted someone (a timer still waiting to start has nothing to take)."""
    return esc.state is not EscalationState.ACTIVE or (esc.step, esc.repeat) != (0, 0)


async def acknowledge(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, who: Staff, by: Staff
) -> dict[str, datetime]:
    """`who` has it (an /ack, or a /handover from `by`). Returns {rule id: when we check back}.

    The reporter and everyone the acknowledged climbs alerted learn who has it, in one
    message each, so two duty workers never both take it unknowingly.
    """
    at = Moment(tx, preset, now)
    rules: dict[str, datetime] = {}
    targets = [Recipient.staff(episode.reported_by)]
    key: Callable[[Recipient], MessageKey] | None = None  # from the first climb taken
    news = False  # False: `who` already held every climb taken; nobody needs telling again
    for esc in await escalation_store.live_escalations(tx, episode.id):
        if not esc.needs_ack or not _has_fired(esc):
            continue
        if esc.state is EscalationState.ACKED and esc.acked_by not in (who.id, by.id):
            continue  # someone else has this one: taking it over is a /handover
        news = news or not (esc.state in _HOLDING and esc.acked_by == who.id)
        check = now + esc.context.ladder.review_time
        await escalation_store.update_escalation(
            tx, esc, state=EscalationState.ACKED, acked_by=who.id, acked_at=now, next_at=check
        )
        rules[_rule(at, esc)] = check
        if key is None:
            key = partial(message_keys.climb_taken, esc.id, esc.version)
        targets += await outbox_store.told_about_climb_steps(tx, esc.id)
    revived = await _revive_exhausted(at, episode, who)
    if revived and key is None:
        key = partial(message_keys.late_taken, episode.id, now, who.id)
    rules.update(revived)
    if not rules or key is None or not (news or revived):
        return rules
    if by.id != who.id:
        targets.append(Recipient.staff(who.id))
        text = f"{by.name} handed {child.label} to {who.name}, who has it now."
    else:
        text = f"{who.name} has {child.label} (acknowledged {short_time(now, preset.zone)})."
    for recipient in dict.fromkeys(targets):
        if recipient == Recipient.staff(by.id):
            continue  # the person who typed it gets the direct reply instead
        await outbox_store.enqueue(
            tx,
            idem_key=key(recipient),
            recipient=recipient,
            text=text,
            rules=tuple(rules),
            now=now,
            episode_id=episode.id,
            child_id=child.id,
        )
    return rules


async def escalate_now(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, by: Staff
) -> int:
    """/escalate: every climb that has alerted someone moves to its next step at once.

    Timers not yet started (the overnight prompt, next-working-day notices) are left alone;
    a colleague who held a climb is told it moved on.
    """
    moved = 0
    at = Moment(tx, preset, now)
    for esc in await escalation_store.live_escalations(tx, episode.id):
        if not esc.needs_ack or not _has_fired(esc):
            continue
        if esc.state is EscalationState.ACKED and esc.acked_by and esc.acked_by != by.id:
            await outbox_store.enqueue(
                tx,
                idem_key=message_keys.climb_escalated(esc.id, esc.version, esc.acked_by),
                recipient=Recipient.staff(esc.acked_by),
                text=f"{by.name} escalated {child.label}: the next people "
                "on the ladder are being told.",
                rules=(_rule(at, esc),),
                now=now,
                episode_id=episode.id,
                child_id=child.id,
                urgency=_urgency(at, esc),
            )
        step, repeat = _next_step_position(esc)
        if esc.state is EscalationState.ACTIVE and esc.repeat == 0 and esc.step > 0:
            step, repeat = esc.step, 0  # the next step is already the pending one
        fresh = await escalation_store.update_escalation(
            tx, esc, state=EscalationState.ACTIVE, step=step, repeat=repeat, next_at=now
        )
        why = await _escalated_why(at, esc, by)
        await _send_current(Moment(tx, preset, now), fresh, episode, child, why, (by.id,))
        moved += 1
    return moved


async def _escalated_why(at: Moment, esc: Escalation, by: Staff) -> str:
    tz = at.preset.zone
    first = f"first alert {local_time(esc.started_at, tz)}"
    when = short_time(at.now, tz)
    if esc.acked_by and esc.acked_at:
        took = short_time(esc.acked_at, tz)
        if esc.acked_by == by.id:
            return f"{by.name} took this at {took} and escalated it at {when}; it comes to you now ({first})"
        holder = await staff_store.get_staff(at.tx, esc.acked_by)
        name = holder.name if holder else esc.acked_by
        return (
            f"{name} took this at {took}; {by.name} escalated it at {when}; it comes to you "
            f"now ({first})"
        )
    return f"{by.name} escalated this at {when}; nobody has taken it yet ({first})"


# ---- found and after ----------------------------------------------------------------


async def on_found(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, actor: Staff
) -> None:
    """Stop every climb; RET-TELL: everyone who was told hears it; open the RHI-72H duty."""
    await stop_all(tx, episode)
    assert episode.found_at is not None and episode.end_reason is not None
    found = local_time(episode.found_at, preset.zone)
    rules_for: dict[Recipient, list[str]] = {}
    if preset.implements(rule_ids.TELL_THOSE_TOLD):
        for recipient in await outbox_store.recipients_told(tx, episode.id):
            rules_for.setdefault(recipient, []).append(rule_ids.TELL_THOSE_TOLD)
    if preset.implements(rule_ids.RETURN_ALERT):  # B LCS §1.9: worker, missing tray, IRO / CP chair
        alert = await routing.resolve(
            tx,
            rule_effects().return_alert,
            preset=preset,
            child=child,
            episode=episode,
            now=now,
            office=True,  # the allocated people at any hour (B LCS §1.9)
        )
        for recipient in alert.recipients:
            rules_for.setdefault(recipient, []).append(rule_ids.RETURN_ALERT)
    for recipient, rules in rules_for.items():
        if recipient == Recipient.staff(actor.id):
            continue
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.found(episode.id, recipient),
            recipient=recipient,
            text=(
                f"{child.label} is found: {found}, "
                f"{episode.end_reason.label} (recorded by {actor.name})."
            ),
            rules=rules,
            now=now,
            episode_id=episode.id,
            child_id=child.id,
        )


async def on_finalised(tx: Tx, now: datetime, episode: Episode, child: Child) -> None:
    """Stop everything; chat platforms clear their copies (Telegram chats are not end-to-end
    encrypted): profiles deleted where still allowed, group messages replaced by one line."""
    await stop_all(tx, episode, finalised=True)
    await outbox_store.enqueue(
        tx,
        idem_key=message_keys.redact(episode.id),
        recipient=Recipient.redact(),
        text=f"{child.label}: episode closed. The record is kept in Whereabouts.",
        rules=(rule_ids.FINALISE,),
        now=now,
        episode_id=episode.id,
        child_id=child.id,
    )


async def recipient_unreachable(
    tx: Tx, presets: dict[str, Preset], now: datetime, idem_key: str, reason: str
) -> bool:
    """A climb's message could not reach its person: tell the supervisors, and if the climb is
    still waiting on that send, move it to the next step now. True if the climb moved."""
    send = await outbox_store.climb_send(tx, idem_key)
    if send is None:
        return False
    esc = await escalation_store.get_escalation(tx, send.escalation_id)
    if esc is None:
        return False
    episode = await episode_store.get_episode(tx, esc.episode_id)
    child = await child_store.get_child(tx, esc.child_id)
    if episode is None or child is None:
        return False
    step, repeat = send.step, send.repeat
    at = Moment(tx, presets[child.area], now)
    person = await staff_store.get_staff(tx, send.to.ident)
    reporter = Recipient.staff(episode.reported_by)
    await _tell_supervisors(
        at,
        esc,
        episode,
        child,
        partial(message_keys.climb_unreachable, send, esc.cycle),
        f"Could not reach {person.name if person else send.to} about {child.label} "
        f"({reason}). The alert moves to the next person.",
        also=(reporter,) if send.to != reporter else (),  # they were told it was on its way
    )
    spec_repeat = esc.steps[step].repeat if step < len(esc.steps) else 0
    waiting_on = (step, repeat + 1) if repeat < spec_repeat else (step + 1, 0)
    if esc.state is not EscalationState.ACTIVE or (esc.step, esc.repeat) != waiting_on:
        return False
    moved = await escalation_store.update_escalation(tx, esc, step=step + 1, repeat=0, next_at=now)
    why = (
        f"{person.name if person else send.to} could not be reached; it comes to you now "
        f"(first alert {local_time(esc.started_at, at.preset.zone)})"
    )
    await _send_current(at, moved, episode, child, why)
    return True


async def release_leaver(
    tx: Tx,
    preset: Preset,
    now: datetime,
    esc: Escalation,
    episode: Episode,
    child: Child,
    leaver_id: str,
) -> bool:
    """Someone who has left held this climb, or it is waiting on them: it climbs on from the
    next step now, as if they had not answered. True if it moved."""
    if esc.state in (EscalationState.ACKED, EscalationState.CONFIRMING):
        if esc.acked_by != leaver_id:
            return False
    elif esc.state is EscalationState.ACTIVE and _has_fired(esc):
        last = (
            (esc.step, esc.repeat - 1)
            if esc.repeat > 0
            else (esc.step - 1, esc.steps[esc.step - 1].repeat)
        )
        sent_to = await escalation_store.climb_step_recipients(tx, esc.id, *last)
        if str(Recipient.staff(leaver_id)) not in sent_to:
            return False  # they were told of an earlier step: the climb has moved past them
    else:
        return False
    step, _ = _next_step_position(esc)
    fresh = await escalation_store.update_escalation(
        tx,
        esc,
        state=EscalationState.ACTIVE,
        step=step,
        repeat=0,
        acked_by=None,
        acked_at=None,
        next_at=now,
    )
    leaver = await staff_store.get_staff(tx, leaver_id)
    name = leaver.name if leaver else leaver_id
    first = f"first alert {local_time(esc.started_at, preset.zone)}"
    if esc.acked_by == leaver_id and esc.acked_at:  # true words: they had taken it
        took = short_time(esc.acked_at, preset.zone)
        why = f"{name} took this at {took} and has left; it comes to you now ({first})"
    else:
        why = f"{name}, who was alerted, has left; it comes to you now ({first})"
    await _send_current(Moment(tx, preset, now), fresh, episode, child, why)
    return True
