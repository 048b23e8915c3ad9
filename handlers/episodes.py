"""The episode state machine: every transition a person can ask for, checked and written.

Each operation reads the state and writes the change, its timeline events and the
messages it causes inside one write transaction. A `Refusal` raised anywhere inside
rolls all of it back and is shown to the person with what they can do instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from config import rule_ids
from config.presets import Preset
from config.rule_effects import rule_effects
from config.vocabulary import Trigger
from handlers.context import Step
from handlers.guided_report import ReportField
from handlers.messages import Outcome, Refusal
from reminders import escalation, finalising, hub, reach
from reminders.access import action_refusal, may
from reminders.formatting import local_time, short_time
from reminders.returning import bringing_back_advice
from storage import duty_store, episode_store, message_keys, outbox_store
from storage.db import Reader, Tx
from storage.models import (
    Category,
    Child,
    Concern,
    EndReason,
    Episode,
    EpisodeState,
    PoliceGrade,
    Recipient,
    RhiStatus,
    Staff,
)


def _check(step: Step, action: str, child: Child) -> None:
    if not may(step.staff, action, child):
        raise Refusal(action_refusal(step.staff, action, child))


async def _event(
    tx: Tx,
    step: Step,
    episode_id: int | None,
    child: Child,
    kind: str,
    text: str,
    rule_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append to the timeline; `rule_id` defaults to the rule events of `kind` are recorded
    under (config/protocols/_rule_effects.yaml)."""
    return await episode_store.append_event(
        tx,
        episode_id=episode_id,
        child_id=child.id,
        at=at or step.now,
        recorded_at=step.now,
        actor_id=step.staff.id,
        kind=kind,
        text=text,
        rule_id=rule_id or rule_effects().recorded_under(kind),
    )


async def _open_episode(tx: Tx, child: Child, doing: str, staff: Staff | None = None) -> Episode:
    """`staff`: who asked; the way to report an absence is offered only if they may."""
    episode = await episode_store.open_episode_for_child(tx, child.id)
    if episode is None:
        report = (
            f"To report an absence: /absent {child.ref} <last seen time> <where and what happened>"
            if staff is None or may(staff, "report", child)
            else "The child's carers or the duty team report an absence."
        )
        raise Refusal(f"{child.label} has no open episode, so I can't {doing}. {report}")
    return episode


async def current_episode(tx: Reader, child: Child, doing: str) -> Episode:
    """The open episode, else the latest one not yet finalised."""
    episode = await episode_store.open_episode_for_child(tx, child.id)
    if episode is None:
        latest = await episode_store.latest_episode_for_child(tx, child.id)
        if latest is not None and latest.state is not EpisodeState.FINALISED:
            episode = latest
    if episode is None:
        raise Refusal(f"{child.label} has no episode in progress, so I can't {doing}.")
    return episode


async def _returned_episode(
    tx: Tx, child: Child, doing: str, staff: Staff | None = None
) -> Episode:
    """The latest episode the child has come back from and that is not finalised yet.

    A child who goes missing again before the last return is closed off still gets that
    return interview recorded and that episode finalised.
    """
    episode = await episode_store.latest_found_episode(tx, child.id)
    if episode is not None:
        return episode
    if await episode_store.open_episode_for_child(tx, child.id) is not None:
        first = (
            f"First: /found {child.ref} <time> <end reason> <where, with whom>"
            if staff is None or may(staff, "found", child)
            else "The carers or the duty team record it first"
        )
        raise Refusal(
            f"{child.label} has not been recorded found yet, so I can't {doing}. "
            f"{first} [{rule_ids.FINALISE}]"
        )
    latest = await episode_store.latest_episode_for_child(tx, child.id)
    if latest is not None and latest.state is EpisodeState.FINALISED:
        raise Refusal(f"{child.label}'s episode #{latest.id} is already finalised.")
    raise Refusal(f"{child.label} has no episode in progress, so I can't {doing}.")


def _tz(step: Step, child: Child) -> Preset:
    return step.svc.preset_for(child)


# ---- reporting --------------------------------------------------------------


async def report_absent(
    step: Step,
    children: list[Child],
    last_seen: datetime,
    details: str,
    concern: Concern,
    category: Category = Category.ABSENT,
) -> Outcome:
    """A carer reports one child, or siblings together (RET-SIBLINGS), as not where they should be."""
    for child in children:
        _check(step, "report", child)
    if category is Category.AWAY:
        for child in children:
            if not child.legal_status.is_looked_after:
                raise Refusal(
                    f"'Away from placement' is only for looked-after children (B App 2, WY §2); "
                    f"{child.label} is not looked after. Use /absent."
                )
    if not details.strip():
        raise Refusal(
            "Say where the child was last seen and what happened, e.g. "
            "/absent C-0042 21:05 left after a row, phone off",
            ReportField.WHERE,
        )
    lines: list[str] = []
    async with step.svc.db.write() as tx:
        group = await episode_store.next_link_group(tx) if len(children) > 1 else None
        for child in children:
            lines.append(
                await _report_one(tx, step, child, last_seen, details, concern, category, group)
            )
        ids = [
            e.id for c in children if (e := await episode_store.open_episode_for_child(tx, c.id))
        ]
    if concern is Concern.POLICE:
        lines.append(
            "Level of concern is police intervention: report to the police now "
            f"({reach.police_line(_tz(step, children[0]))}), then record it: "
            "/police <child> ref <ref> grade <grade>"
        )
    return Outcome.say("\n".join(lines)).about(*ids)


async def _report_one(
    tx: Tx,
    step: Step,
    child: Child,
    last_seen: datetime,
    details: str,
    concern: Concern,
    category: Category,
    group: int | None,
) -> str:
    preset = _tz(step, child)
    tz = preset.zone
    existing = await episode_store.open_episode_for_child(tx, child.id)
    if existing is not None:
        # RET-ONEOPEN: a second report adds to the open episode.
        await _event(
            tx,
            step,
            existing.id,
            child,
            "reported_again",
            f"reported again (last seen {local_time(last_seen, tz)}): {details}",
        )
        if group is not None and existing.link_group is None:
            await episode_store.update_episode(tx, existing, link_group=group)
        return (
            f"{child.label} is already reported {existing.category.value} since "
            f"{local_time(existing.last_seen_at, tz)} (episode #{existing.id}). "
            f"Your report was added to that episode's timeline [{rule_ids.ONE_OPEN_EPISODE}]."
        )
    previous_end = await episode_store.last_found_at(tx, child.id)
    if previous_end is not None and last_seen < previous_end:
        raise Refusal(
            f"{child.label}'s previous episode ended at {local_time(previous_end, tz)}; "
            f"last seen {local_time(last_seen, tz)} is before that. Check the time.",
            ReportField.SEEN,
        )
    episode_id = await episode_store.insert_episode(
        tx,
        child=child,
        category=category,
        concern=concern,
        last_seen_at=last_seen,
        last_seen_place=details,
        reported_by=step.staff.id,
        reported_at=step.now,
        link_group=group,
    )
    await _event(
        tx,
        step,
        episode_id,
        child,
        "last_seen",
        f"last seen: {details}",
        at=last_seen,
    )
    await _event(
        tx,
        step,
        episode_id,
        child,
        "reported",
        f"reported {category.value} by {step.staff.name}; level of concern: {concern.value}",
    )
    episode = await episode_store.get_episode(tx, episode_id)
    assert episode is not None
    await hub.on_event(
        tx, preset, step.now, "absence_reported", episode, child, step.staff, details
    )
    if concern is Concern.POLICE:
        await hub.on_event(
            tx, preset, step.now, "police_concern", episode, child, step.staff, details
        )
    linked = (
        f" (linked with the siblings reported with them) [{rule_ids.SIBLINGS}]" if group else ""
    )
    told = await reach.at_command(tx, preset, step.now, episode, child, step.staff)
    return "\n".join(
        [
            f"Recorded: {child.label} {category.value}, last seen "
            f"{local_time(last_seen, tz)}. Episode #{episode_id}{linked}.",
            *told.lines(preset, step.now),
        ]
    )


async def mark_away(step: Step, child: Child, text: str) -> Outcome:
    """Whereabouts now known but the child is not where they should be (B App 2, WY §8)."""
    _check(step, "update", child)
    if not child.legal_status.is_looked_after:
        raise Refusal(
            f"'Away from placement' is only for looked-after children; {child.label} is not. "
            "Use /update to record where they are."
        )
    async with step.svc.db.write() as tx:
        episode = await _open_episode(tx, child, "record them as away", step.staff)
        if episode.category is Category.MISSING:
            raise Refusal(
                f"{child.label} is reported missing to the police; that stays until found. "
                "Record what you know with /update and tell the police."
            )
        fresh = await episode_store.update_episode(tx, episode, category=Category.AWAY)
        await _event(tx, step, episode.id, child, "away", f"whereabouts known: {text}")
        await hub.on_event(tx, _tz(step, child), step.now, "away", fresh, child, step.staff, text)
    lines = [f"Recorded: {child.label} is away from placement (whereabouts known)."]
    advice = bringing_back_advice(_tz(step, child), step.now)
    if advice:
        lines.append(advice)
    return Outcome.say("\n".join(lines)).about(episode.id)


async def add_update(step: Step, child: Child, at: datetime, text: str) -> Outcome:
    """ABS-LOG: a search, a call, a contact; appended, never edited."""
    _check(step, "update", child)
    if not text.strip():
        raise Refusal(f"Say what happened, e.g. /update {child.ref} rang Jay's friend, no answer")
    async with step.svc.db.write() as tx:
        episode = await current_episode(tx, child, "add an update")
        if at < episode.last_seen_at:
            tz = _tz(step, child).zone
            raise Refusal(
                f"{local_time(at, tz)} is before {child.label} was last seen "
                f"({local_time(episode.last_seen_at, tz)}). Check the time."
            )
        await _event(tx, step, episode.id, child, "update", text, at=at)
        await hub.on_event(tx, _tz(step, child), step.now, "update", episode, child, step.staff)
    return Outcome.say(f"Added to {child.label}'s timeline.").about(episode.id)


async def set_concern(step: Step, child: Child, level: Concern, text: str) -> Outcome:
    _check(step, "concern", child)
    async with step.svc.db.write() as tx:
        episode = await _open_episode(tx, child, "change the level of concern", step.staff)
        if episode.concern is level:
            return Outcome.say(f"{child.label}'s level of concern is already {level.value}.").about(
                episode.id
            )
        fresh = await episode_store.update_episode(tx, episode, concern=level)
        note = f"level of concern {episode.concern.value} -> {level.value}"
        await _event(tx, step, episode.id, child, "concern", f"{note}. {text}".strip())
        preset = _tz(step, child)
        await hub.on_event(tx, preset, step.now, "update", fresh, child, step.staff)
        if level is Concern.POLICE and episode.category is not Category.MISSING:
            await hub.on_event(
                tx, preset, step.now, "police_concern", fresh, child, step.staff, text
            )
        elif episode.concern is Concern.POLICE:
            await hub.on_event(
                tx, preset, step.now, "concern_lowered", fresh, child, step.staff, text
            )
        if level is not Concern.POLICE:  # no ladder answers it: the holder hears in a line
            await escalation.tell_holder(
                tx, preset, step.now, "concern", fresh, child, step.staff,
                f"{note} ({step.staff.name}). {text}".strip(),
            )  # fmt: skip
        told = await reach.at_command(tx, preset, step.now, fresh, child, step.staff)
    reply = f"Recorded: {child.label} level of concern is now {level.value}."
    if level is Concern.POLICE and episode.category is not Category.MISSING:
        reply += (
            " Report to the police now, then record it: "
            f"/police {child.ref} ref <ref> grade <low|medium|high>"
        )
    reply += "".join(f"\n{line}" for line in told.lines(preset, step.now))  # who hears of it
    return Outcome.say(reply).about(episode.id)


# ---- police -----------------------------------------------------------------


def _grade_refusal(preset: Preset, child: Child, grade: PoliceGrade, day: datetime) -> str | None:
    """MIS-GRADE limits: B grades every missing child medium or high; H no under-16 low."""
    if grade is not PoliceGrade.LOW:
        return None
    rules = preset.police_grading
    if rules.lowest == "medium":
        return (
            f"In {preset.name} the police grade every missing child medium or high "
            f"({rules.source}); 'low' can't be right. Check the grade with the police."
        )
    if rules.lowest_from_home == "medium" and not child.legal_status.is_looked_after:
        return (
            f"{child.label} is missing from home: in {preset.name} the police grade a child "
            f"missing from home medium or high ({rules.source}). Check the grade with the "
            "police; if they insist, escalate with /disagree."
        )
    if rules.no_low_under_age is not None:
        age = child.age_on(day.astimezone(preset.zone).date())
        if age is not None and age < rules.no_low_under_age:
            return (
                f"{child.label} is {age}: in {preset.name} no child under "
                f"{rules.no_low_under_age} is graded low ({rules.source}). Check the grade with "
                "the police; if they insist, escalate with /disagree."
            )
    return None


async def report_police(
    step: Step, child: Child, ref: str, grade: PoliceGrade, text: str
) -> Outcome:
    """MIS-REF and MIS-GRADE: the child is now missing, reported to the police."""
    _check(step, "police", child)
    preset = _tz(step, child)
    refusal = _grade_refusal(preset, child, grade, step.now)
    if refusal:
        raise Refusal(refusal)
    async with step.svc.db.write() as tx:
        episode = await _open_episode(tx, child, "record a police report", step.staff)
        if episode.category is Category.MISSING:
            changes = []
            if ref != episode.police_ref:
                changes.append(f"police reference {episode.police_ref} -> {ref}")
            if grade is not episode.police_grade:
                grade_was = episode.police_grade.value if episode.police_grade else "none"
                changes.append(f"police grade {grade_was} -> {grade.value}")
            if not changes:
                return Outcome.say(
                    f"{child.label} is already reported missing, ref {ref}, grade {grade.value}."
                ).about(episode.id)
            await episode_store.update_episode(tx, episode, police_ref=ref, police_grade=grade)
            await _event(tx, step, episode.id, child, "police_update", "; ".join(changes))
            return Outcome.say(f"Recorded for {child.label}: {'; '.join(changes)}.").about(
                episode.id
            )
        fresh = await episode_store.update_episode(
            tx,
            episode,
            category=Category.MISSING,
            concern=Concern.POLICE,
            ever_missing=True,
            police_ref=ref,
            police_grade=grade,
            police_reported_at=step.now,
        )
        await _event(
            tx,
            step,
            episode.id,
            child,
            "police_report",
            f"reported missing to the police, ref {ref}, grade {grade.value}. {text}".strip(),
        )
        await hub.on_event(tx, preset, step.now, "reported_missing", fresh, child, step.staff, text)
        told = await reach.at_command(tx, preset, step.now, fresh, child, step.staff)
    return Outcome.say(
        "\n".join(
            [
                f"Recorded: {child.label} reported missing to the police, ref {ref}, "
                f"grade {grade.value}.",
                *told.lines(preset, step.now),
            ]
        )
    ).about(episode.id)


# ---- found and after ----------------------------------------------------------


async def record_found(
    step: Step, child: Child, at: datetime, reason: EndReason, where: str
) -> Outcome:
    _check(step, "found", child)
    preset = _tz(step, child)
    tz = preset.zone
    nudge = not where.strip()
    if nudge:  # a button press: record it now, details follow
        where = "details to follow"
    async with step.svc.db.write() as tx:
        episode = await _open_episode(tx, child, "record them found", step.staff)
        if at < episode.last_seen_at:
            raise Refusal(
                f"{local_time(at, tz)} is before {child.label} was last seen "
                f"({local_time(episode.last_seen_at, tz)}). Check the time."
            )
        fresh = await episode_store.update_episode(
            tx,
            episode,
            state=EpisodeState.FOUND,
            found_at=at,
            end_reason=reason,
            found_where=where,
        )
        await _event(tx, step, episode.id, child, "found", f"{reason.label}: {where}", at=at)
        made = await hub.on_found(tx, preset, step.now, fresh, child, step.staff)
        told = await reach.told_now(tx, fresh, step.now, step.staff)
        interview = await reach.duty_holder_line(
            tx, preset, made, rule_ids.RETURN_INTERVIEW, "arrange the return home interview"
        )
    lines = [f"Recorded: {child.label} found {local_time(at, tz)} ({reason.label})."]
    if told:
        lines.append(f"Telling {reach.and_list(told)} now.")
    else:
        lines.append(f"Nobody else could be told of the return. {reach.phone_line(preset)}")
    if nudge:
        lines.append(f"Add where and with whom: /update {child.ref} <where, with whom>")
    if episode.ever_missing or episode.category is Category.MISSING:
        if reason is not EndReason.POLICE and preset.implements(rule_ids.TELL_POLICE_OF_RETURN):
            lines.append(
                f"Tell the police {child.first_name} is back now (ref {episode.police_ref}) "
                f"[{rule_ids.TELL_POLICE_OF_RETURN}]."
            )
        ours = preset.implements(rule_ids.RETURN_INTERVIEW) and finalising.interview_is_ours(
            preset, child
        )
        if ours and may(step.staff, "rhi", child):
            lines.append(
                "A return home interview must be offered within 72 hours "
                f"[{rule_ids.RETURN_INTERVIEW}]: "
                f"/rhi {child.ref} offered|held|declined <by whom / notes>"
            )
        elif interview:  # someone else must act: say who
            lines.append(interview)
    return Outcome.say("\n".join(lines)).about(episode.id)


# The event each recorded interview outcome raises.
RHI_TRIGGERS: dict[RhiStatus, Trigger] = {
    RhiStatus.OFFERED: "rhi_offered",
    RhiStatus.HELD: "rhi_held",
    RhiStatus.DECLINED: "rhi_declined",
}


async def record_rhi(step: Step, child: Child, status: RhiStatus, text: str) -> Outcome:
    """The return home interview: offered, held (by whom), or declined by the child."""
    _check(step, "rhi", child)
    if status is RhiStatus.HELD and not text.strip():
        raise Refusal(f"Say who held the interview, e.g. /rhi {child.ref} held by Ana (R-U-Safe)")
    async with step.svc.db.write() as tx:
        episode = await _returned_episode(tx, child, "record a return interview", step.staff)
        if episode.rhi_status in (RhiStatus.HELD, RhiStatus.DECLINED):
            done = episode.rhi_status.value + (f" ({episode.rhi_by})" if episode.rhi_by else "")
            raise Refusal(
                f"The interview for {child.label} (episode #{episode.id}) is already recorded as "
                f"{done}. The record isn't changed; add a correction with /update."
            )
        fresh = await episode_store.update_episode(
            tx, episode, rhi_status=status, rhi_by=text if status is RhiStatus.HELD else None
        )
        label = "declined by the child" if status is RhiStatus.DECLINED else status.value
        await _event(
            tx,
            step,
            episode.id,
            child,
            "rhi",
            f"return interview {label}. {text}".strip(),
        )
        await hub.on_event(
            tx, _tz(step, child), step.now, RHI_TRIGGERS[status], fresh, child, step.staff
        )
    return Outcome.say(f"Recorded: return interview {label} for {child.label}.").about(episode.id)


def finalise_blocker(
    episode: Episode, child: Child, interview: bool = True, staff: Staff | None = None
) -> str | None:
    """RET-FINAL: found, and the interview done or declined, or never reported missing (or
    the interview is not ours: `interview` False). `staff`: who asked; a command is
    suggested only if they may run it."""
    if episode.state is EpisodeState.OPEN:
        found = (
            f"/found {child.ref} ..."
            if staff is None or may(staff, "found", child)
            else "it is recorded found"
        )
        return (
            f"{child.label} has not been found yet; an episode is finalised only after "
            f"{found} [{rule_ids.FINALISE}]"
        )
    if episode.state is EpisodeState.FINALISED:
        return f"{child.label}'s episode #{episode.id} is already finalised."
    if (
        interview
        and episode.ever_missing
        and episode.rhi_status not in (RhiStatus.HELD, RhiStatus.DECLINED)
    ):
        now_status = episode.rhi_status.value if episode.rhi_status else "not recorded"
        suggest = (
            f": /rhi {child.ref} held|declined ..."
            if staff is None or may(staff, "rhi", child)
            else " (the social worker or duty team records it)"
        )
        return (
            f"{child.label}'s return interview is {now_status}; it must be held or declined by "
            f"the child before finalising [{rule_ids.FINALISE}]{suggest}"
        )
    return None


async def finalise(step: Step, child: Child, note: str) -> Outcome:
    _check(step, "finalise", child)
    async with step.svc.db.write() as tx:
        episode = await _returned_episode(tx, child, "finalise", step.staff)
        blocker = finalise_blocker(
            episode, child, finalising.interview_is_ours(_tz(step, child), child), step.staff
        )
        if blocker:
            raise Refusal(blocker)
        for waiting in await finalising.open_blockers(tx, episode):
            raise Refusal(
                f"{child.label}'s episode waits for {waiting.label} [{waiting.rule_id}]: "
                f"{waiting.action} Close it first (/done {waiting.label} <note>), then "
                f"finalise [{rule_ids.FINALISE}]."
            )
        await episode_store.update_episode(
            tx,
            episode,
            state=EpisodeState.FINALISED,
            finalised_at=step.now,
            finalised_by=step.staff.id,
        )
        await _event(
            tx,
            step,
            episode.id,
            child,
            "finalised",
            f"finalised by {step.staff.name}. {note}".strip(),
        )
        await escalation.on_finalised(tx, step.now, episode, child)
    return Outcome.say(
        f"Episode #{episode.id} for {child.label} finalised [{rule_ids.FINALISE}]."
    ).about(episode.id)


# ---- escalation commands ---------------------------------------------------------------


async def acknowledge(
    step: Step,
    child: Child,
    *,
    via: str = "",
    same_write: Callable[[Tx, bool], Awaitable[None]] | None = None,
) -> Outcome:
    """/ack: "I've got it". Stops the climb and tells the reporter who has it.

    `via`: how it came other than a chat command ("SMS"), said on the timeline; `same_write`
    runs in the acknowledgement's transaction when it is not refused, told whether it took
    anything (a received text recorded as processed, once, with what it did)."""
    _check(step, "ack", child)
    preset = _tz(step, child)
    async with step.svc.db.write() as tx:
        episode = await current_episode(tx, child, "acknowledge an alert")
        if episode.reported_by == step.staff.id:
            raise Refusal(
                f"You reported {child.label}: the alert is for the people who support you, so "
                f"it keeps going until one of them takes it. Add what is happening with /update."
            )
        rules = await escalation.acknowledge(
            tx, preset, step.now, episode, child, step.staff, step.staff
        )
        if not rules:
            holders = await escalation.holders(tx, episode)
            if holders:
                names = ", ".join(
                    f"{name} (since {short_time(when, preset.zone)})" for name, when in holders
                )
                raise Refusal(
                    f"{names} already has {child.label}. To take it over: "
                    f"/handover {child.ref} {step.staff.id}"
                )
            nothing = f"Nothing about {child.label} is waiting for an acknowledgement."
            if same_write is None:
                # A refusal writes nothing: a replay after a crash asks again and gets this
                # answer again, rather than "your /ack is saved" for an /ack that took nothing.
                raise Refusal(nothing)
            await same_write(tx, False)  # a received text, recorded as processed once
            return Outcome.say(nothing).about(episode.id)
        said = f"{step.staff.name} has it" + (f" (acknowledged by {via})" if via else "")
        await _event(tx, step, episode.id, child, "ack", said, ",".join(rules))
        if same_write is not None:
            await same_write(tx, True)
    check = short_time(min(rules.values()), preset.zone)
    return Outcome.say(
        f"You have {child.label} [{', '.join(rules)}]. If there is no update by "
        f"{check} I will ask you to confirm."
    ).about(episode.id)


async def handover(step: Step, child: Child, target: Staff) -> Outcome:
    """/handover: pass an alert to a colleague who can act on the child."""
    _check(step, "ack", child)
    if not may(target, "ack", child):
        raise Refusal(
            f"{target.name} can't take alerts about {child.label}; choose a social worker, "
            "manager or duty worker who works with the child."
        )
    preset = _tz(step, child)
    async with step.svc.db.write() as tx:
        episode = await current_episode(tx, child, "hand it over")
        rules = await escalation.acknowledge(
            tx, preset, step.now, episode, child, target, step.staff
        )
        if not rules:
            raise Refusal(f"Nothing about {child.label} is waiting for someone to take it.")
        await _event(
            tx,
            step,
            episode.id,
            child,
            "handover",
            f"handed over from {step.staff.name} to {target.name}",
            ",".join(rules),
        )
    return Outcome.say(f"{target.name} has {child.label} now; they have been told.").about(
        episode.id
    )


async def escalate(step: Step, child: Child) -> Outcome:
    """/escalate: climb to the next step now."""
    _check(step, "update", child)
    preset = _tz(step, child)
    async with step.svc.db.write() as tx:
        episode = await current_episode(tx, child, "escalate")
        moved = await escalation.escalate_now(tx, preset, step.now, episode, child, step.staff)
        if not moved:
            raise Refusal(
                f"No alert about {child.label} is climbing. To call a manager in about the "
                f"police's response: /disagree {child.ref} <what the police said>"
            )
        await _event(tx, step, episode.id, child, "escalate", f"escalated by {step.staff.name}")
        told = await reach.at_command(tx, preset, step.now, episode, child, step.staff)
    alerted = told.alerted
    if not alerted:
        return Outcome.say(
            f"Escalated {child.label}, but nobody further up the ladder could be alerted. "
            f"{reach.phone_line(preset)}"
        ).about(episode.id)
    return Outcome.say(f"Escalated {child.label}: alerting {reach.and_list(alerted)} now.").about(
        episode.id
    )


async def police_disagree(step: Step, child: Child, text: str) -> Outcome:
    """MIS-DISAGREE: the police delay or disagree; a manager is called in to talk to them."""
    _check(step, "update", child)
    if not text.strip():
        raise Refusal(f"Say what the police said: /disagree {child.ref} <what they said>")
    preset = _tz(step, child)
    if not preset.implements(rule_ids.POLICE_DISAGREE):
        raise Refusal(f"The {preset.name} protocol has no police-disagreement route here.")
    async with step.svc.db.write() as tx:
        episode = await _open_episode(
            tx, child, "record a disagreement with the police", step.staff
        )
        await _event(tx, step, episode.id, child, "police_disagree", text)
        await hub.on_event(
            tx, preset, step.now, "police_disagree", episode, child, step.staff, text
        )
        told = await reach.at_command(tx, preset, step.now, episode, child, step.staff)
    if told.only_self and not told.alerted:
        return Outcome.say(
            f"Recorded [{rule_ids.POLICE_DISAGREE}]. You are the manager on duty the protocol "
            f"calls in: speak to the police duty officer about {child.label} now."
        ).about(episode.id)
    lines = [f"Recorded [{rule_ids.POLICE_DISAGREE}]."]
    if told.alerted:
        lines.append(
            f"Calling in {reach.and_list(told.alerted)} now to speak to the police duty officer "
            f"about {child.label}; you will hear when they take it. Keep trying to locate them."
        )
    else:
        lines += told.lines(preset, step.now)
    return Outcome.say("\n".join(lines)).about(episode.id)


async def call_me(step: Step, child: Child) -> Outcome:
    """ "Call me" on an alert: the reporter is asked to phone the person who pressed it."""
    _check(step, "ack", child)
    async with step.svc.db.write() as tx:
        episode = await current_episode(tx, child, "ask for a call")
        event_id = await _event(
            tx, step, episode.id, child, "call_me", f"{step.staff.name} asked for a call"
        )
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.call_me(episode.id, event_id),
            recipient=Recipient.staff(episode.reported_by),
            text=f"{step.staff.name} asks you to phone them now about {child.label}.",
            rules=(rule_ids.RECORD,),
            now=step.now,
            episode_id=episode.id,
            child_id=child.id,
        )
    return Outcome.say(f"I've asked the reporter to phone you about {child.label}.").about(
        episode.id
    )


async def rhi_independent(step: Step, child: Child, text: str) -> Outcome:
    """The child asks for an independent interviewer (NS §2.6): the request must go out."""
    _check(step, "rhi", child)
    async with step.svc.db.write() as tx:
        episode = await _returned_episode(tx, child, "record the request", step.staff)
        await _event(
            tx, step, episode.id, child, "rhi_independent",
            f"the child asked for an independent interviewer. {text}".strip(),
        )  # fmt: skip
        made = await hub.on_event(
            tx, _tz(step, child), step.now, "rhi_independent", episode, child, step.staff
        )
    follow = f" Duty D{made[0]} is open for the request." if made else ""
    return Outcome.say(f"Recorded: {child.label} wants an independent interviewer.{follow}").about(
        episode.id
    )


async def flag(
    step: Step, child: Child, trigger: Trigger, text: str, rule: str, said: str
) -> Outcome:
    """/abduction, /harm, /media: an event that makes the area's duties for it."""
    _check(step, "update", child)
    if not text.strip():
        raise Refusal(f"Say what is known: /{said} {child.ref} <details>")
    preset = _tz(step, child)
    async with step.svc.db.write() as tx:
        episode = await current_episode(tx, child, f"record {said}")
        await _event(tx, step, episode.id, child, trigger, text, rule)
        made = await hub.on_event(tx, preset, step.now, trigger, episode, child, step.staff, text)
        # each duty named with its own rule: /harm makes a strategy meeting (NS §1.7) too
        named = [(d, await duty_store.get_duty(tx, d)) for d in made]
    if not made:
        return Outcome.say(
            f"Recorded on {child.label}'s timeline. The {preset.name} protocol sets no duty for it."
        ).about(episode.id)
    labels = ", ".join(f"D{d} [{duty.rule_id}]" if duty else f"D{d}" for d, duty in named)
    return Outcome.say(f"Recorded [{rule}]. Duty {labels} is open and being chased.").about(
        episode.id
    )
