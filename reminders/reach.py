"""Who an episode's alerts reached: what the reporter is told, and what `/status` shows.

The first alert of a climb is queued in the outbox in the same transaction as the report,
not yet delivered, so the words are "Alerting Olu (out-of-hours duty worker) now", never
"Told Olu". If a send later fails for good, the reporter hears that too
(escalation.recipient_unreachable). When nobody could be alerted the reporter is told to
phone, with the area's number (config/contacts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from config.presets import Preset
from config.role_words import said
from reminders import routing
from reminders.access import ACTIONS
from reminders.formatting import local_time, short_time
from storage import duty_store, escalation_store, reach_store, rota_store, staff_store
from storage.db import Reader, to_db_time
from storage.models import (
    Child,
    Episode,
    EscalationState,
    OutboxState,
    Recipient,
    RecipientKind,
    Role,
    Staff,
)


def person(staff: Staff) -> str:
    """ "Olu (out-of-hours duty worker)"; a name that already says its role in brackets
    (the demo's "Olu (out-of-hours)") is left as it is."""
    if staff.name.rstrip().endswith(")"):
        return staff.name
    return f"{staff.name} ({said(staff.role)})"


async def recipient_words(r: Reader, recipient: Recipient) -> str:
    if recipient.kind is RecipientKind.TEAM:
        return f"the {recipient.ident} team chat"
    if recipient.kind is RecipientKind.STAFF:
        staff = await staff_store.get_staff(r, recipient.ident)
        return person(staff) if staff else recipient.ident
    return str(recipient)


def same_second(a: datetime, b: datetime) -> bool:
    """Times as stored (to the second): a climb read back started at the command's moment."""
    return to_db_time(a) == to_db_time(b)


def and_list(items: Sequence[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def phone_line(preset: Preset) -> str:
    """What to do when nobody could be alerted: phone, with the area's number."""
    number = preset.contacts.emergency_duty_team
    if number:
        return f"Phone the emergency duty team now on {number}."
    return (
        "Phone the emergency duty team now (Whereabouts has no number for them in "
        f"{preset.name}: use your contact list, and tell an admin to set it)."
    )


def police_line(preset: Preset) -> str:
    """ "999, or 101 if no immediate danger", with the area's own non-emergency number."""
    number = preset.contacts.police_non_emergency
    other = number if number else "the police non-emergency number"
    return f"999, or {other} if no immediate danger"


def gap_reason(gaps: Sequence[str]) -> str:
    """ "no one is on the out-of-hours rota", or what was missing."""
    gaps = list(dict.fromkeys(gaps))
    if gaps and all(g.endswith("on the rota") for g in gaps):
        roles = and_list([g.removesuffix(" on the rota") for g in gaps])
        return f"no one is on the out-of-hours rota (no {roles})"
    return "no " + and_list(gaps) if gaps else "nobody is set up to hear it"


@dataclass
class Reach:
    """What one command's alerts did, at the moment of the command."""

    alerted: list[str] = field(default_factory=list)  # people an alert asks to take it
    informed: list[str] = field(default_factory=list)  # told for information
    updated: list[str] = field(default_factory=list)  # holders told of the change
    posted: list[str] = field(default_factory=list)  # team chats the alert went to
    nobody: str | None = None  # an alert started and reached nobody: why
    only_self: bool = False  # the only one the alert would reach is the person who asked
    supervisors: bool = True  # someone (out-of-hours manager on the rota, an admin) hears of gaps

    def lines(self, preset: Preset, when: datetime) -> list[str]:
        out: list[str] = []
        if self.updated:
            out.append(f"{and_list(self.updated)}, who has this, has been updated.")
        if self.alerted:
            out.append(
                f"Alerting {and_list(self.alerted + self.posted)} now "
                f"({short_time(when, preset.zone)}); you will hear when someone takes it."
            )
        elif self.posted:
            out.append(f"Posted in {and_list(self.posted)}.")
        if not self.alerted and self.nobody and not self.updated:
            out.append(f"Nobody could be alerted: {self.nobody}. {phone_line(preset)}")
            if not self.supervisors:
                out.append(
                    "Nobody else could be told either: there is no out-of-hours manager on the "
                    "rota and no admin. The child's managers have been sent this."
                )
        if self.informed:
            out.append(f"{and_list(self.informed)} told for information.")
        return out


_HOLDING = (EscalationState.ACKED, EscalationState.CONFIRMING)


async def _supervisors_exist(r: Reader, now: datetime) -> bool:
    if await rota_store.on_rota(r, "out_of_hours_manager", now):
        return True
    return bool(await staff_store.staff_with_role(r, Role.ADMIN))


async def at_command(
    r: Reader,
    preset: Preset,
    now: datetime,
    episode: Episode,
    child: Child,
    actor: Staff,
) -> Reach:
    """What the alerts queued by this command (at `now`) reached."""
    reach = Reach()
    me = Recipient.staff(actor.id)
    own = {me, Recipient.staff(episode.reported_by)}  # their own prompts are not "alerting"
    for send in await reach_store.climb_sends(r, episode.id, since=now):
        if send.recipient in own:
            continue
        words = await recipient_words(r, send.recipient)
        if send.recipient.kind is not RecipientKind.STAFF:
            reach.posted.append(words)
        else:
            (reach.alerted if send.needs_ack else reach.informed).append(words)
    reach.posted = list(dict.fromkeys(reach.posted))
    for holder in await reach_store.holder_updates_since(r, episode.id, now):
        if holder != me:
            reach.updated.append(await recipient_words(r, holder))
    reach.informed = [w for w in dict.fromkeys(reach.informed) if w not in reach.alerted]
    reach.alerted = list(dict.fromkeys(reach.alerted))
    if reach.alerted or reach.updated:
        return reach
    gaps: list[str] = []
    started = False
    for esc in await escalation_store.escalations_for_episode(r, episode.id):
        if not same_second(esc.started_at, now) or not esc.needs_ack or esc.state in _HOLDING:
            continue  # not started by this command, or taken over by the episode's holder
        started = True
        for step in esc.steps:
            resolved = await routing.resolve(
                r, step.notify, preset=preset, child=child, episode=episode, now=now
            )
            gaps += resolved.gaps
            if resolved.recipients == [me] and actor.role in ACTIONS["ack"]:
                reach.only_self = True  # the one this alert calls in is the person who asked
    if started:
        reach.nobody = gap_reason(gaps) if gaps else None
        if reach.only_self and not gaps:
            reach.nobody = None
        reach.supervisors = await _supervisors_exist(r, now)
    return reach


async def managers_in_scope(r: Reader, child: Child, episode: Episode) -> list[Recipient]:
    """Who hears a dead end nobody else can: the child's team manager, the reporter's line
    (their manager and up), and the heads of service. People who have left are skipped."""
    found: list[str] = []
    reporter = await staff_store.get_staff(r, episode.reported_by)
    for start in (child.team_manager_id, reporter.manager_id if reporter else None):
        seen: set[str] = set()
        staff_id = start
        while staff_id and staff_id not in seen:
            seen.add(staff_id)
            manager = await staff_store.get_staff(r, staff_id)
            if manager is None:
                break
            if manager.active:
                found.append(manager.id)
            staff_id = manager.manager_id
    found += [s.id for s in await staff_store.staff_with_role(r, Role.HEAD_OF_SERVICE)]
    return [Recipient.staff(s) for s in dict.fromkeys(found)]


async def status_line(r: Reader, preset: Preset, episode: Episode) -> str:
    """Who holds the episode since when, else who has been alerted, else that nobody has."""
    tz = preset.zone
    held: list[str] = []
    for esc in await escalation_store.live_escalations(r, episode.id):
        if (
            esc.needs_ack
            and esc.state in (EscalationState.ACKED, EscalationState.CONFIRMING)
            and esc.acked_by
        ):
            staff = await staff_store.get_staff(r, esc.acked_by)
            name = staff.name if staff else esc.acked_by
            since = short_time(esc.acked_at, tz) if esc.acked_at else "?"
            held.append(f"{name} since {since}")
    if held:
        return "held by " + and_list(held)
    everyone = [
        s
        for s in await reach_store.climb_sends(r, episode.id)
        if s.needs_ack and s.recipient != Recipient.staff(episode.reported_by)
    ]
    sends = [s for s in everyone if s.recipient.kind is RecipientKind.STAFF]
    chats = list(
        dict.fromkeys([await recipient_words(r, s.recipient) for s in everyone if s not in sends])
    )
    posted = f" (posted in {and_list(chats)})" if chats else ""
    delivered = [s for s in sends if s.state is OutboxState.SENT]
    failed = [s for s in sends if s.state is OutboxState.FAILED]
    if delivered:
        names = [await recipient_words(r, s.recipient) for s in delivered]
        first = min(s.sent_at or s.created_at for s in delivered)
        return (
            f"nobody has taken it yet; alerts reached {and_list(names)} "
            f"(first {short_time(first, tz)})"
        )
    if sends and len(failed) < len(sends):
        return "nobody has taken it yet; alerts queued, not yet delivered"
    if failed:
        return f"NOBODY REACHED: every alert failed to deliver; phone the duty team{posted}"
    return f"NOBODY REACHED: no one on duty could be alerted; phone the duty team{posted}"


async def told_now(r: Reader, episode: Episode, now: datetime, actor: Staff) -> list[str]:
    """Everyone a message about the episode was queued to by this command, but the actor."""
    me = Recipient.staff(actor.id)
    return [
        await recipient_words(r, to)
        for to in await reach_store.recipients_since(r, episode.id, now)
        if to != me
    ]


async def duty_holder_line(
    r: Reader, preset: Preset, duty_ids: Sequence[int], rule: str, what: str
) -> str | None:
    """ "Priya (social worker) holds the duty to arrange the return interview (D3, due …)"."""
    for duty_id in duty_ids:
        duty = await duty_store.get_duty(r, duty_id)
        if duty is None or duty.rule_id != rule:
            continue
        due = local_time(duty.due_at, preset.zone)
        owner = await staff_store.get_staff(r, duty.owner_id) if duty.owner_id else None
        if owner is None:
            return (
                f"Nobody holds the duty to {what} yet ({duty.label}, due {due}) [{rule}]: "
                "tell your manager."
            )
        return f"{person(owner)} holds the duty to {what} ({duty.label}, due {due}) [{rule}]."
    return None
