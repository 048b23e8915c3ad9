"""The morning digest: what an office-hours person missed while off, in one message at the
start of their next office hours (the child's area's office hours, config/calendar.py).

Two things are held for it: a child found while the allocated social worker and team
manager were off (they hear at once in office hours), and an urgent duty of theirs that the
out-of-hours team had. Items are stored (storage/digest_store.py) when they happen; the
sweeper sends each person's due items as one message through the outbox at their opening,
worded then, so a duty shows how it stands by the morning, not how it stood at night.
Everything runs in the caller's write transaction.
"""

from __future__ import annotations

from datetime import datetime

from config import rule_ids
from config.presets import Preset
from reminders.formatting import local_time, short_time
from storage import (
    child_store,
    digest_store,
    duty_store,
    episode_store,
    message_keys,
    outbox_store,
    staff_store,
)
from storage.db import Tx
from storage.models import Child, DutyState, Episode, Recipient, Staff

# The timeline events a digest retells for a return: what a colleague would say happened.
KEY_EVENTS = (
    "last_seen",
    "reported",
    "concern",
    "police_report",
    "police_update",
    "police_disagree",
    "abduction",
    "harm",
    "media",
    "away",
    "found",
)
MAX_EVENTS = 12


def opening(preset: Preset, now: datetime) -> datetime:
    """When an office-hours person next starts: now if the office is open."""
    return preset.calendar.next_office_open(now)


async def hold(
    tx: Tx,
    preset: Preset,
    now: datetime,
    staff_id: str,
    topic: str,
    text: str,
    *,
    child: Child,
    episode_id: int | None = None,
    duty_id: int | None = None,
    rule_id: str | None = None,
) -> datetime:
    """Keep this for the person's next opening; returns when they will hear it."""
    send_at = opening(preset, now)
    await digest_store.hold(
        tx,
        staff_id=staff_id,
        send_at=send_at,
        topic=topic,
        text=text,
        now=now,
        child_id=child.id,
        episode_id=episode_id,
        duty_id=duty_id,
        rule_id=rule_id,
    )
    return send_at


# ---- a return, told to the child's owners --------------------------------------------------


async def on_found(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, actor: Staff
) -> None:
    """The allocated social worker and team manager hear the child is back: at once in
    office hours, otherwise at the start of their next office hours with the night's events."""
    assert episode.found_at is not None and episode.end_reason is not None
    text = (
        f"{child.label} is back: found {local_time(episode.found_at, preset.zone)}, "
        f"{episode.end_reason.label} (recorded by {actor.name})."
    )
    in_office = preset.calendar.in_office_hours(now)
    for owner_id in dict.fromkeys((child.social_worker_id, child.team_manager_id)):
        owner = await staff_store.get_staff(tx, owner_id) if owner_id else None
        if owner is None or not owner.active or owner.id == actor.id:
            continue
        if in_office:
            # The key of the found message everyone told hears: one message, not two.
            await outbox_store.enqueue(
                tx,
                idem_key=message_keys.found(episode.id, Recipient.staff(owner.id)),
                recipient=Recipient.staff(owner.id),
                text=text,
                rules=(rule_ids.TELL_THOSE_TOLD,),
                now=now,
                episode_id=episode.id,
                child_id=child.id,
            )
        else:
            await hold(
                tx, preset, now, owner.id, f"return:{episode.id}", text,
                child=child, episode_id=episode.id, rule_id=rule_ids.TELL_THOSE_TOLD,
            )  # fmt: skip


# ---- sending --------------------------------------------------------------------------------


async def send(
    tx: Tx, presets: dict[str, Preset], now: datetime, staff_id: str, send_at: datetime
) -> int:
    """One person's digest for one opening: one message (0 if nothing is left to say)."""
    items = await digest_store.items(tx, staff_id, send_at)
    person = await staff_store.get_staff(tx, staff_id)
    await digest_store.mark_sent(tx, staff_id, send_at, now)
    if not items or person is None or not person.active:
        return 0
    zone = None
    lines: list[str] = []
    rules: list[str] = []
    for item in items:
        child = await child_store.get_child(tx, item.child_id) if item.child_id else None
        preset = presets[child.area] if child else next(iter(presets.values()))
        zone = zone or preset.zone
        if item.rule_id and item.rule_id not in rules:
            rules.append(item.rule_id)
        lines.append(f"• {item.text}")
        if item.duty_id is not None:
            lines.append(f"   {await _duty_now(tx, preset, now, item.duty_id, staff_id)}")
        elif item.topic.startswith("return:") and item.episode_id is not None:
            lines += [f"   {line}" for line in await _what_happened(tx, preset, item.episode_id)]
    assert zone is not None
    first = min(i.created_at for i in items)
    head = (
        f"Good morning {person.name}. While you were off (since {local_time(first, zone)}), "
        f"{len(items)} thing{'s' if len(items) != 1 else ''} for you:"
    )
    text = "\n".join([head, *lines])
    return int(
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.digest(staff_id, send_at),
            recipient=Recipient.staff(staff_id),
            text=text,
            rules=rules,
            now=now,
            due_at=send_at,
        )
    )


async def _duty_now(tx: Tx, preset: Preset, now: datetime, duty_id: int, staff_id: str) -> str:
    duty = await duty_store.get_duty(tx, duty_id)
    if duty is None:
        return "(the duty is no longer on record)"
    if duty.state is not DutyState.OPEN:
        who = await staff_store.get_staff(tx, duty.closed_by) if duty.closed_by else None
        word = "done" if duty.state is DutyState.DONE else "closed as not applicable"
        when = local_time(duty.closed_at, preset.zone) if duty.closed_at else ""
        return f"Now {word} by {who.name if who else 'the bot'} {when}: {duty.note or ''}".rstrip(
            ": "
        )
    owner = "yours" if duty.owner_id == staff_id else f"with {duty.owner_id or 'nobody'}"
    state = "overdue" if duty.overdue(now) else "due"
    return (
        f"Still open ({owner}), {state} {local_time(duty.due_at, preset.zone)}: "
        f"/done {duty.label} <note> when it is done."
    )


async def _what_happened(tx: Tx, preset: Preset, episode_id: int) -> list[str]:
    events = [
        e for e in await episode_store.events_for_episode(tx, episode_id) if e.kind in KEY_EVENTS
    ]
    shown = events[-MAX_EVENTS:]
    lines = [f"{local_time(e.at, preset.zone)} {e.kind.replace('_', ' ')}: {e.text}" for e in shown]
    if len(events) > len(shown):
        lines.insert(0, f"({len(events) - len(shown)} earlier events on /timeline)")
    return lines


def stand_in_note(preset: Preset, now: datetime, who: str, role_words: str) -> str:
    """How an urgent duty's morning line says who had it overnight."""
    return f"went to {who} ({role_words}) at {short_time(now, preset.zone)}"
