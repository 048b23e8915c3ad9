"""Statutory duties (RULES.md §2–§5): made by episode events, owned by a person, chased.

A duty's spec is copied onto it when it is made, like a climb's steps. The sweeper calls
`remind` for every duty whose next reminder is due: a reminder before the deadline (lead
time, and through the day where the rule says so), one at the deadline, then repeats while
overdue; after the rule's number of overdue reminders the owner's manager is told.
Every function runs inside the caller's write transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from config.presets import LETTER_EPISODES, Deadline, DutySpec, Preset, duty_rule
from config.rule_effects import rule_effects
from config.vocabulary import Trigger
from reminders import alerts, digest, routing
from reminders.conditions import Situation, holds
from reminders.formatting import duration, local_time, short_time
from storage import child_store, duty_store, episode_store, message_keys, outbox_store, staff_store
from storage.db import Reader, Tx
from storage.models import (
    Button,
    Category,
    Child,
    Duty,
    DutyState,
    Episode,
    EpisodeState,
    MessageUrgency,
    Recipient,
    RecipientKind,
    Role,
    Staff,
)

log = logging.getLogger(__name__)

HANDED_UP_EVERY = timedelta(hours=24)

# Duty owners who work shifts (the rota's roles, the reporting carer): their reminders go at
# any hour. Everyone else keeps office hours: out of hours an urgent duty goes to whoever the
# rota has on duty for it, and one that can wait is held to the next opening.
_ON_SHIFT_OWNERS = frozenset((*routing.ROTA_ROLES, "reporter"))
# Owner rules that name a manager: out of hours the rota's out-of-hours manager stands in.
_MANAGER_OWNED = frozenset(
    {"manager", "team_manager", "head_of_service", "assistant_director", "director"}
)
# The line a hand-up climbs: owner -> their manager -> head of service -> assistant director
# -> director. A hand-up only ever goes to someone higher than the person it is with.
RANK: dict[Role, int] = {
    Role.TEAM_MANAGER: 1,
    Role.OUT_OF_HOURS_MANAGER: 1,
    Role.HEAD_OF_SERVICE: 2,
    Role.ASSISTANT_DIRECTOR: 3,
    Role.DIRECTOR: 4,
}
_LINE: tuple[tuple[str, int], ...] = (
    ("team_manager", 1),
    ("head_of_service", 2),
    ("assistant_director", 3),
    ("director", 4),
)


@dataclass(frozen=True)
class Moment:
    tx: Tx
    preset: Preset
    now: datetime


# ---- deadlines -------------------------------------------------------------------------


def deadline_at(preset: Preset, rule: Deadline | dict[str, Any], base: datetime) -> datetime:
    """The due instant for a deadline counted from `base`, in the area's calendar (RULES.md)."""
    spec = rule if isinstance(rule, Deadline) else Deadline.model_validate(rule)
    cal = preset.calendar
    if spec.hours is not None:
        due = cal.add_hours(base, spec.hours)
    elif spec.days is not None:
        due = cal.add_days(base, spec.days)
    elif spec.working_days is not None:
        due = cal.add_working_days(base, spec.working_days)
    elif spec.same_working_day:
        due = cal.same_working_day(base)
    elif spec.next_working_day:
        due = cal.next_working_day_deadline(base)
    else:
        assert spec.at is not None
        local = base.astimezone(preset.zone)
        candidate = datetime.combine(local.date(), spec.at, tzinfo=preset.zone)
        if candidate <= local:
            candidate = datetime.combine(
                local.date() + timedelta(days=1), spec.at, tzinfo=preset.zone
            )
        due = candidate
    if spec.cap is not None:  # elapsed time: add in UTC, not on the local wall clock
        due = min(due, base.astimezone(UTC) + spec.cap)
    return due


async def _pattern_met(
    at: Moment, rule_id: str, spec: DutySpec, episode: Episode, child: Child
) -> bool:
    """The Nth episode in the window, counted over the child's history (RULES.md §5)."""
    assert spec.pattern is not None
    since = at.now - spec.pattern.within if spec.pattern.within else None
    count = 0
    for past in await episode_store.episodes_of_child(at.tx, child.id):
        if since is not None and past.last_seen_at < since:
            continue
        kind = (
            "missing"
            if (past.ever_missing or past.category is Category.MISSING)
            else past.category.value
        )
        if past.id == episode.id and episode.category is Category.MISSING:
            kind = "missing"
        if kind in spec.pattern.counts:
            count += 1
    if count < spec.pattern.count:
        return False
    # once per window (once ever when the pattern has no window)
    return not await duty_store.duty_created_since(at.tx, child.id, rule_id, since)


# ---- making duties ------------------------------------------------------------------------


async def trigger(
    tx: Tx,
    preset: Preset,
    now: datetime,
    name: Trigger,
    episode: Episode,
    child: Child,
    actor: Staff,
) -> list[int]:
    """An episode event: make every duty the area's rules attach to it. Returns duty ids."""
    at = Moment(tx, preset, now)
    made = []
    if name == "found":
        await _close_when_found(at, episode, child)
    if name in ("rhi_held", "rhi_declined"):
        closed = rule_effects().closed_by_interview
        await close_rules(
            at, episode, closed, DutyState.DONE, actor.id, f"return interview {name[4:]}"
        )
    # A return is counted from when the child came back, not from when it was typed in.
    happened = episode.found_at if name == "found" and episode.found_at else now
    earlier: int | None = None  # counted once, for the first duty this event makes
    for key, spec in preset.duties.items():
        rule_id = duty_rule(key)
        if spec.trigger != name and name not in rule_effects().also_triggered_by(key):
            continue
        if earlier is None:
            earlier = await _earlier_episodes(at, episode, child)
        situation = Situation(preset, happened, episode, child, earlier)
        if any(holds(c, situation) for c in spec.unless):
            continue
        spec = spec.made_by(name)  # a conditional urgency is settled by what made the duty
        if not all(holds(c, situation) for c in spec.when):
            if spec.otherwise_missing_for is None:
                continue
            spec = spec.model_copy(update={"missing_for": spec.otherwise_missing_for})
        if (
            spec.pattern is not None
            and spec.trigger == name
            and not await _pattern_met(at, rule_id, spec, episode, child)
        ):
            continue
        base = happened if happened != now else None
        made.append(await create(at, rule_id, spec, episode, child, actor, base=base))
    return made


async def _earlier_episodes(at: Moment, episode: Episode, child: Child) -> int:
    return sum(
        1
        for e in await episode_store.episodes_of_child(at.tx, child.id)
        if e.id != episode.id and e.last_seen_at < episode.last_seen_at
    )


async def create(
    at: Moment,
    rule_id: str,
    spec: DutySpec,
    episode: Episode,
    child: Child,
    actor: Staff | None,
    base: datetime | None = None,
) -> int:
    start = episode.last_seen_at if spec.deadline.start == "episode" else (base or at.now)
    applies_from = None
    if spec.missing_for is not None:
        # Counted from the moment the child had been missing that long (NS §1.7: 72 h after
        # 24 h missing), even if the police report came later.
        applies_from = episode.last_seen_at + spec.missing_for
        start = applies_from
    due = deadline_at(at.preset, spec.deadline, start)
    owner = await _owner(at, spec.owner, child, episode)
    action = _render(at, spec.action, episode, child)
    duty_id = await duty_store.insert_duty(
        at.tx,
        episode_id=episode.id,
        child_id=child.id,
        rule_id=rule_id,
        due_at=due,
        owner_id=owner,
        created_at=at.now,
        owner_role=spec.owner,
        action=action,
        spec=spec.model_dump(mode="json"),
        next_remind_at=_first_reminder(spec, at.now, due, applies_from),
        applies_from=applies_from,
    )
    await episode_store.append_event(
        at.tx,
        episode_id=episode.id,
        child_id=child.id,
        at=at.now,
        recorded_at=at.now,
        actor_id=None,
        kind="duty",
        rule_id=rule_id,
        text=f"duty D{duty_id}: {action} Due {local_time(due, at.preset.zone)}"
        + (f", owner {owner}" if owner else ", no owner found"),
    )
    made = await duty_store.get_duty(at.tx, duty_id)
    assert made is not None
    await alerts.on_duty_made(at.tx, at.preset, at.now, made, child)
    if owner is None:
        await report_unowned(
            at, made, episode, child,
            f"Nobody to own duty D{duty_id} for {child.label} "
            f"({spec.owner.replace('_', ' ')}): {action} Due {local_time(due, at.preset.zone)}.",
        )  # fmt: skip
    return duty_id


def _first_reminder(
    spec: DutySpec, now: datetime, due: datetime, applies_from: datetime | None
) -> datetime:
    earliest = max(now, applies_from) if applies_from else now
    if spec.chase_every is not None:
        return earliest  # chased from the start ("through the day")
    if spec.lead is not None and due - spec.lead > earliest:
        return due - spec.lead
    if spec.remind_at_once:
        return earliest
    return due


async def _owner(at: Moment, audience: str, child: Child, episode: Episode) -> str | None:
    """Duties belong to the allocated people, whatever the hour (routing in office terms)."""
    resolved = await routing.resolve(
        at.tx, (audience,), preset=at.preset, child=child, episode=episode, now=at.now, office=True
    )
    for recipient in resolved.recipients:
        if recipient.kind is RecipientKind.STAFF:
            return recipient.ident
    if audience in routing.ROTA_ROLES:
        # Nobody on the rota now: a role one person holds (a missing coordinator) is theirs.
        holders = await staff_store.staff_with_role(at.tx, Role(audience))
        if len(holders) == 1:
            return holders[0].id
    return None


def _render(at: Moment, text: str, episode: Episode, child: Child) -> str:
    cal = at.preset.calendar
    hours = cal.hours_until_next_working_day(at.now)
    instructions = at.preset.out_of_hours_return
    edt = "" if instructions is None else instructions.hold if hours >= 48 else instructions.ask
    values = {
        "child": child.label,
        "ref": child.ref,
        "police_ref": episode.police_ref or "not recorded",
        "home_authority": child.home_authority or "the home authority",
        "last_seen": local_time(episode.last_seen_at, at.preset.zone),
        "next_working_day_in": f"{hours:.0f} h",
        "rhi_edt_instruction": edt,
    }
    return text.format(**values)


# ---- chasing --------------------------------------------------------------------------------


async def remind(tx: Tx, preset: Preset, now: datetime, duty: Duty) -> None:
    """The sweeper found this duty's reminder due: send it and schedule the next."""
    at = Moment(tx, preset, now)
    spec = DutySpec.model_validate(duty.spec)
    episode = await episode_store.get_episode(tx, duty.episode_id) if duty.episode_id else None
    child = await child_store.get_child(tx, duty.child_id)
    if child is None or episode is None:
        await duty_store.update_duty(tx, duty, next_remind_at=None)
        return
    if duty.state is not DutyState.OPEN:
        await duty_store.update_duty(tx, duty, next_remind_at=None)
        return
    if (
        spec.still_missing
        and episode.state is not EpisodeState.OPEN
        and not await _kept_when_found(at, spec, episode, child)
    ):
        await _close(at, duty, DutyState.NOT_APPLICABLE, None, "the child is no longer missing")
        return
    overdue = now >= duty.due_at
    route = await _route(at, duty, spec, child, episode)
    if route.hold_until is not None:
        # It can wait: the owner keeps office hours. Only when the reminder goes moves.
        await duty_store.update_duty(tx, duty, next_remind_at=route.hold_until)
        return
    recipients = list(route.recipients)
    text = route.preface + _reminder_text(at, duty, now)
    if duty.reminders == 0 and spec.cc:
        # Copied in with the first reminder. Out of hours, on a duty that can wait, someone
        # copied in who keeps office hours hears in their morning digest instead.
        morning = not spec.urgent and not preset.calendar.at_work(now)
        for audience in spec.cc:
            cc = await routing.resolve(
                tx, (audience,), preset=preset, child=child, episode=episode, now=now,
                office=None if route.stand_in else True,
            )  # fmt: skip
            for person in cc.recipients:
                if person in recipients:
                    continue
                if (
                    morning
                    and audience not in _ON_SHIFT_OWNERS
                    and person.kind is RecipientKind.STAFF
                ):
                    await digest.hold(
                        tx, preset, now, person.ident, f"duty:{duty.id}",
                        f"{duty.label} [{duty.rule_id}] {child.label} (you are copied in): "
                        f"{duty.action}",
                        child=child, episode_id=duty.episode_id, duty_id=duty.id,
                        rule_id=duty.rule_id,
                    )  # fmt: skip
                else:
                    recipients.append(person)
    if route.stand_in and duty.owner_id:
        await _tell_owner_in_the_morning(at, duty, child, route)
    for recipient in recipients:
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.duty_reminder(duty.id, duty.reminders, recipient),
            recipient=recipient,
            text=text,
            rules=(duty.rule_id,),
            now=now,
            episode_id=episode.id,
            child_id=child.id,
            urgency=MessageUrgency.of(spec.urgent),  # an urgent duty's reminders go first
            buttons=(Button("Done", f"/done {duty.label}"),),
            due_at=min(duty.next_remind_at or now, now),
        )
    overdue_count = duty.overdue_reminders + (1 if now > duty.due_at else 0)
    hand_up = _hand_up_at(preset, spec, duty.due_at)
    changes: dict[str, Any] = {
        "reminders": duty.reminders + 1,
        "overdue_reminders": overdue_count,
        "next_remind_at": _next_reminder(spec, now, duty.due_at, hand_up),
    }
    due_to_hand_up = overdue_count >= spec.manager_after if hand_up is None else now >= hand_up
    if (
        overdue
        and duty.manager_told_at is None
        and due_to_hand_up
        and await _tell_manager(at, duty, spec, episode, child, route)
    ):
        changes["manager_told_at"] = now
    if overdue and (duty.manager_told_at or "manager_told_at" in changes):
        # Handed up: the owner keeps a daily reminder, not one every few hours for weeks.
        changes["next_remind_at"] = now + max(spec.every, HANDED_UP_EVERY)
    if not recipients:
        await _tell_admins(
            at, duty.id, episode, child, duty.rule_id,
            f"Duty {duty.label} for {child.label} has no owner: {duty.action}",
        )  # fmt: skip
    await duty_store.update_duty(tx, duty, **changes)


def _hand_up_at(preset: Preset, spec: DutySpec, due: datetime) -> datetime | None:
    """When the manager is told, where the rule counts it in working days (NS §2.10)."""
    if spec.manager_after_working_days is None:
        return None
    return preset.calendar.add_working_days(due, spec.manager_after_working_days)


def _next_reminder(
    spec: DutySpec, now: datetime, due: datetime, hand_up: datetime | None = None
) -> datetime:
    if now >= due:
        if hand_up is not None and now < hand_up:
            return min(now + spec.every, hand_up)
        return now + spec.every
    candidates = [due]
    if spec.chase_every is not None:
        candidates.append(now + spec.chase_every)
    if spec.lead is not None and due - spec.lead > now:
        candidates.append(due - spec.lead)
    return min(candidates)


def _reminder_text(at: Moment, duty: Duty, now: datetime) -> str:
    due = local_time(duty.due_at, at.preset.zone)
    if now < duty.due_at:
        when = f"Due {due} (in {duration(duty.due_at - now)})."
    elif now - duty.due_at < timedelta(minutes=1):
        when = f"Due now ({due})."
    else:
        when = f"OVERDUE by {duration(now - duty.due_at)} (was due {due})."
    return (
        f"{duty.label}: {duty.action} {when} "
        f"When done: /done {duty.label} <note>, or /na {duty.label} <reason>."
    )


@dataclass(frozen=True)
class Route:
    """Who a duty's reminder goes to now, by the clock."""

    recipients: tuple[Recipient, ...] = ()
    holder: Staff | None = None  # who it is with, for a hand-up (None: nobody owns it)
    hold_until: datetime | None = None  # it can wait: the owner's next office opening
    stand_in: str = ""  # out of hours, the rota's person on duty for it (as a gap names them)
    preface: str = ""  # what the reminder says first


async def _route(at: Moment, duty: Duty, spec: DutySpec, child: Child, episode: Episode) -> Route:
    owner = await staff_store.get_staff(at.tx, duty.owner_id) if duty.owner_id else None
    on_shift = owner is not None and (duty.owner_role or "social_worker") in _ON_SHIFT_OWNERS
    if on_shift or at.preset.calendar.at_work(at.now):
        if owner is not None:
            return Route((Recipient.staff(owner.id),), holder=owner)
        return Route(await _chasers(at, child, episode), preface=_unowned_preface(duty))
    if not spec.urgent:
        return Route(hold_until=at.preset.calendar.next_office_open(at.now))
    # Urgent, out of hours: whoever the rota has on duty for it, who may act or hand it on.
    manager_owned = owner is None or (duty.owner_role or "") in _MANAGER_OWNED
    audiences = (
        ("out_of_hours_manager",) if manager_owned else ("out_of_hours", "out_of_hours_manager")
    )
    for audience in audiences:
        on_duty = await routing.resolve(
            at.tx, (audience,), preset=at.preset, child=child, episode=episode, now=at.now,
            office=False,
        )  # fmt: skip
        if on_duty.recipients:
            first = await staff_store.get_staff(at.tx, on_duty.recipients[0].ident)
            words = routing.describe(audience, office=False)
            opening = local_time(digest.opening(at.preset, at.now), at.preset.zone)
            preface = (
                f"Out of hours this comes to you as the {words}"
                + (f" for {owner.name}, who hears of it at {opening}" if owner else "")
                + ": act on it now, or hand it on. "
            )
            if owner is None:
                preface += _unowned_preface(duty)
            return Route(tuple(on_duty.recipients), first, stand_in=words, preface=preface)
    # Nobody on the rota: the owner at home rather than nobody.
    if owner is not None:
        return Route((Recipient.staff(owner.id),), holder=owner)
    return Route(await _chasers(at, child, episode), preface=_unowned_preface(duty))


def _unowned_preface(duty: Duty) -> str:
    return f"Nobody owns {duty.label}: take it with /take {duty.label}. "


async def _chasers(at: Moment, child: Child, episode: Episode) -> tuple[Recipient, ...]:
    """An unowned duty is chased as the manager's: the child's team manager, else the head
    of service, else the admins."""
    for audience in ("team_manager", "head_of_service", "admins"):
        found = await routing.resolve(
            at.tx, (audience,), preset=at.preset, child=child, episode=episode, now=at.now,
            office=True,
        )  # fmt: skip
        if found.recipients:
            return tuple(found.recipients)
    return ()


async def _tell_owner_in_the_morning(at: Moment, duty: Duty, child: Child, route: Route) -> None:
    """The allocated owner hears at the start of their next office hours what happened."""
    assert duty.owner_id is not None
    who = route.holder.name if route.holder else "the rota"
    await digest.hold(
        at.tx, at.preset, at.now, duty.owner_id, f"duty:{duty.id}",
        f"{duty.label} [{duty.rule_id}] {child.label}: {duty.action} Out of hours it went to "
        f"{who} ({route.stand_in}) at {local_time(at.now, at.preset.zone)}.",
        child=child, episode_id=duty.episode_id, duty_id=duty.id, rule_id=duty.rule_id,
    )  # fmt: skip


async def report_unowned(
    at: Moment, duty: Duty | None, episode: Episode, child: Child, text: str
) -> None:
    """A duty nobody owns is told at once to the out-of-hours manager on duty and the
    admins (else the child's managers), who can /take it; until then it is chased as the
    manager's and shown in their /duties and the daily summary."""
    if duty is None:
        return
    found = await routing.resolve(
        at.tx, ("out_of_hours_manager", "admins"), preset=at.preset, child=child,
        episode=episode, now=at.now, office=False,
    )  # fmt: skip
    recipients = found.recipients or list(await _chasers(at, child, episode))
    text += f" Take it with /take {duty.label}; until someone does it is chased as the manager's."
    for recipient in recipients:
        await outbox_store.enqueue(
            at.tx,
            idem_key=message_keys.duty_unowned(duty.id, at.now, recipient),
            recipient=recipient,
            text=text,
            rules=(duty.rule_id,),
            now=at.now,
            episode_id=episode.id,
            child_id=child.id,
            urgency=MessageUrgency.of(DutySpec.model_validate(duty.spec).urgent),
        )
    if not recipients:
        log.error("duty %s has no owner and nobody could be told", duty.id)


async def _tell_manager(
    at: Moment, duty: Duty, spec: DutySpec, episode: Episode, child: Child, route: Route
) -> bool:
    """RHI-LATE, RHI-CHASE and the like: overdue duties go up a level, never down. False:
    not now (out of hours it waits for the office, unless the duty must act now)."""
    targets = await _managers(at, spec, child, episode, route)
    if targets is None:
        return False
    rule = spec.manager_rule or duty.rule_id
    owner = await staff_store.get_staff(at.tx, duty.owner_id) if duty.owner_id else None
    text = (
        f"{duty.label} for {child.label} is overdue "
        f"({duration(at.now - duty.due_at)} past {local_time(duty.due_at, at.preset.zone)}); "
        f"owner {owner.name if owner else 'nobody'}: {duty.action}"
    )
    if not targets:
        # The admins have always had the manager's text, tag and all, under their own tag.
        await _tell_admins(
            at,
            duty.id,
            episode,
            child,
            rule,
            text + " (nobody above them to hand it up to)",
        )
        return True
    for recipient in targets:
        await outbox_store.enqueue(
            at.tx,
            idem_key=message_keys.duty_manager(duty.id, recipient),
            recipient=recipient,
            text=text,
            rules=(rule,),
            now=at.now,
            episode_id=episode.id,
            child_id=child.id,
            urgency=MessageUrgency.of(spec.urgent),
        )
    return True


async def _managers(
    at: Moment, spec: DutySpec, child: Child, episode: Episode, route: Route
) -> list[Recipient] | None:
    """Up the line from whoever has the duty: the rule's own manager, the person's manager
    chain, the out-of-hours manager for the duty worker, then team manager, head of service,
    assistant director, director; only people ranked above the holder (none: the admins).
    Out of hours a hand-up goes only from a duty that must act now, and no higher than the
    out-of-hours manager on duty; otherwise it waits for the office (None)."""
    holder = route.holder
    rank = RANK.get(holder.role, 0) if holder is not None else 1  # unowned: the manager's
    if not at.preset.calendar.at_work(at.now):
        if not spec.urgent or rank >= RANK[Role.OUT_OF_HOURS_MANAGER]:
            return None
        on_duty = await _resolve(at, "out_of_hours_manager", child, episode, office=False)
        return [r for r in on_duty if await _rank_of(at, r) > rank] or None
    groups: list[list[Recipient]] = []
    if spec.manager is not None and not route.stand_in:
        groups.append(await _resolve(at, spec.manager, child, episode, office=True))
    if holder is not None:
        boss = await _line_manager(at, holder, rank)
        if boss is not None:
            groups.append([Recipient.staff(boss)])
        if holder.role is Role.OUT_OF_HOURS:
            groups.append(await _resolve(at, "out_of_hours_manager", child, episode, office=False))
    for audience, level in _LINE:
        if level > rank:
            groups.append(await _resolve(at, audience, child, episode, office=True))
    for group in groups:
        above = [r for r in group if await _rank_of(at, r) > rank]
        if above:
            return above
    return []


async def _resolve(
    at: Moment, audience: str, child: Child, episode: Episode, *, office: bool
) -> list[Recipient]:
    resolved = await routing.resolve(
        at.tx, (audience,), preset=at.preset, child=child, episode=episode, now=at.now,
        office=office,
    )  # fmt: skip
    return resolved.recipients


async def _rank_of(at: Moment, recipient: Recipient) -> int:
    if recipient.kind is not RecipientKind.STAFF:
        return -1
    person = await staff_store.get_staff(at.tx, recipient.ident)
    return RANK.get(person.role, 0) if person is not None and person.active else -1


async def _line_manager(at: Moment, holder: Staff, rank: int) -> str | None:
    """The first person up the holder's manager chain who is still here and ranks above."""
    seen = {holder.id}
    manager_id = holder.manager_id
    while manager_id is not None and manager_id not in seen:
        seen.add(manager_id)
        person = await staff_store.get_staff(at.tx, manager_id)
        if person is None:
            return None
        if person.active and RANK.get(person.role, 0) > rank:
            return person.id
        manager_id = person.manager_id
    return None


async def _tell_admins(
    at: Moment, key: int, episode: Episode, child: Child, rule: str, text: str
) -> None:
    for admin in await staff_store.staff_with_role(at.tx, Role.ADMIN):
        await outbox_store.enqueue(
            at.tx,
            idem_key=message_keys.duty_admin(key, at.now, admin.id),
            recipient=Recipient.staff(admin.id),
            text=text,
            rules=(rule,),
            now=at.now,
            episode_id=episode.id,
            child_id=child.id,
        )


# ---- closing ------------------------------------------------------------------------------------


async def close(
    tx: Tx, preset: Preset, now: datetime, duty: Duty, state: DutyState, by: Staff, note: str
) -> list[int]:
    """/done or /na. Returns the ids of duties that follow (a recurrence or the next rule)."""
    at = Moment(tx, preset, now)
    await _close(at, duty, state, by.id, note)
    follow: list[int] = []
    spec = DutySpec.model_validate(duty.spec)
    if state is not DutyState.DONE or duty.episode_id is None:
        return follow
    episode = await episode_store.get_episode(tx, duty.episode_id)
    child = await child_store.get_child(tx, duty.child_id)
    closed = await duty_store.get_duty(tx, duty.id)
    if child is not None and closed is not None:
        await alerts.on_duty_done(tx, preset, now, closed, child)
    if episode is None or child is None:
        return follow
    if spec.recur is not None and episode.state is EpisodeState.OPEN:
        # the next one counts from now: the missing-for threshold was met already
        again = spec.model_copy(update={"deadline": spec.recur, "missing_for": None})
        follow.append(await create(at, duty.rule_id, again, episode, child, by))
    if spec.then and spec.then in preset.duties:
        follow.append(await create(at, spec.then, preset.duties[spec.then], episode, child, by))
    return follow


async def _close(at: Moment, duty: Duty, state: DutyState, by: str | None, note: str) -> None:
    await duty_store.update_duty(
        at.tx, duty, state=state, closed_by=by, closed_at=at.now, note=note, next_remind_at=None
    )
    word = "done" if state is DutyState.DONE else "not applicable"
    await episode_store.append_event(
        at.tx,
        episode_id=duty.episode_id,
        child_id=duty.child_id,
        at=at.now,
        recorded_at=at.now,
        actor_id=by,
        kind=f"duty_{state}",
        rule_id=duty.rule_id,
        text=f"duty {duty.label} {word}: {note}",
    )


async def close_rules(
    at: Moment,
    episode: Episode,
    rules: tuple[str, ...],
    state: DutyState,
    by: str | None,
    note: str,
) -> None:
    for duty in await duty_store.duties_for_episode(at.tx, episode.id):
        if duty.state is not DutyState.OPEN or duty.rule_id not in rules:
            continue
        if duty.spec.get("interview_closes", True):  # a visit is not the interview (WY §8)
            await _close(at, duty, state, by, note)


async def _kept_when_found(at: Moment, spec: DutySpec, episode: Episode, child: Child) -> bool:
    """A duty that lapses at found is kept where the rule says (B: repeat concerns, high risk)."""
    if not spec.kept_if_found:
        return False
    earlier = await _earlier_episodes(at, episode, child)
    situation = Situation(at.preset, episode.found_at or at.now, episode, child, earlier)
    return any(holds(c, situation) for c in spec.kept_if_found)


async def _close_when_found(at: Moment, episode: Episode, child: Child) -> None:
    """Duties that only apply while missing (or after N hours missing) lapse on return."""
    assert episode.found_at is not None
    for duty in await duty_store.duties_for_episode(at.tx, episode.id):
        if duty.state is not DutyState.OPEN:
            continue
        spec = duty.spec
        if duty.applies_from is not None and episode.found_at < duty.applies_from:
            await _close(
                at, duty, DutyState.NOT_APPLICABLE, None,
                f"found before {_span(duty.applies_from - episode.last_seen_at)} missing",
            )  # fmt: skip
        elif spec.get("still_missing"):
            kept = await _kept_when_found(at, DutySpec.model_validate(spec), episode, child)
            if not kept:
                await _close(at, duty, DutyState.NOT_APPLICABLE, None, "the child was found")


def _span(delta: timedelta) -> str:
    """A rule's own span as the protocol words it: '24 h', '28 days'."""
    hours = delta.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:.0f} days"
    if hours == int(hours):
        return f"{hours:.0f} h"
    return duration(delta)


# ---- the Director letter (DIR-LETTER, NS §4.3) ---------------------------------------------


async def director_letter(tx: Reader, preset: Preset, child: Child, now: datetime) -> str:
    """A draft letter to the home authority's Director of Children's Services, in the
    preset's words."""
    letter = preset.director_letter
    assert letter is not None, "only an area with a director_letter drafts one"
    episodes = [e for e in await episode_store.episodes_of_child(tx, child.id) if e.ever_missing]
    episode_lines = [
        letter.episode.format(
            start=local_time(e.last_seen_at, preset.zone),
            end=local_time(e.found_at, preset.zone) if e.found_at else "still missing",
            police_ref=e.police_ref or "not recorded",
            grade=e.police_grade.value if e.police_grade else "not recorded",
        )
        for e in episodes
    ]
    authority = child.home_authority or "the home authority"
    values = {
        "authority": authority,
        "today": now.astimezone(preset.zone).strftime("%d %B %Y"),
        "child": child.label,
        "count": len(episodes),
        "section": letter.section,
        "drafted": short_time(now, preset.zone),
    }
    lines: list[str] = []
    for line in letter.lines:
        lines += episode_lines if line == LETTER_EPISODES else [line.format(**values)]
    return "\n".join(lines)


async def take(tx: Tx, preset: Preset, now: datetime, duty: Duty, child: Child, by: Staff) -> Duty:
    """/take D<n>: the duty is theirs now (who may is the caller's check). The previous
    owner, if any, is told; it goes on the timeline."""
    before = duty.owner_id
    taken = await duty_store.update_duty(tx, duty, owner_id=by.id)
    was = f"was {before}'s" if before else "nobody owned it"
    await episode_store.append_event(
        tx,
        episode_id=duty.episode_id,
        child_id=child.id,
        at=now,
        recorded_at=now,
        actor_id=by.id,
        kind="duty",
        rule_id=duty.rule_id,
        text=f"duty {duty.label} taken by {by.name} ({was})",
    )
    if before and before != by.id:
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.duty_taken(duty.id, now, Recipient.staff(before)),
            recipient=Recipient.staff(before),
            text=f"{by.name} has taken {duty.label} for {child.label} from you: {duty.action}",
            rules=(duty.rule_id,),
            now=now,
            episode_id=duty.episode_id,
            child_id=child.id,
        )
    return taken


async def reassign_from_leaver(
    tx: Tx, preset: Preset, now: datetime, duty: Duty, child: Child, episode: Episode
) -> str | None:
    """A duty whose owner has left goes to whoever the duty's owner rule gives now (routing
    skips leavers); the new owner is told. None: nobody to own it (left without an owner,
    and the admins are told as for a duty made with nobody)."""
    at = Moment(tx, preset, now)
    owner = await _owner(at, duty.owner_role or "social_worker", child, episode)
    await duty_store.update_duty(tx, duty, owner_id=owner)
    text = (
        f"duty {duty.label} re-owned: "
        + (f"now {owner}" if owner else "nobody to own it")
        + f" (the owner {duty.owner_id} has left)"
    )
    await episode_store.append_event(
        tx,
        episode_id=episode.id,
        child_id=child.id,
        at=now,
        recorded_at=now,
        actor_id=None,
        kind="duty",
        rule_id=duty.rule_id,
        text=text,
    )
    if owner is None:
        await report_unowned(
            at,
            await duty_store.get_duty(tx, duty.id),
            episode,
            child,
            f"Nobody to own duty {duty.label} for {child.label} now its owner has left: "
            f"{duty.action}",
        )
        return None
    await outbox_store.enqueue(
        tx,
        idem_key=f"duty{duty.id}:reowned:{now.isoformat()}:{owner}",
        recipient=Recipient.staff(owner),
        text=f"Duty {duty.label} for {child.label} is yours now (its owner has left): "
        f"{duty.action} Due {local_time(duty.due_at, preset.zone)}.",
        rules=(duty.rule_id,),
        now=now,
        episode_id=episode.id,
        child_id=child.id,
    )
    return owner
