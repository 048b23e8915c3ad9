"""The later methods of an alert: when a climb alerts a person in chat, their notification
rules (reminders/notification_rules.py) may ask for a text or an e-mail after a delay. Each
is a timer row (storage/notify_store.py, one per climb cycle, person and method); when it is
due, it is sent only if the alert is still waiting: nobody has taken the climb since the
person was alerted, the climb is still under way in that cycle and the child is still not
found. A text carries an ACK code for that alert and person (reply "ACK 4821" to take it).

Only alerts that wait for an acknowledgement have later methods; notices without one are
chat only.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from config.presets import Preset
from reminders import notification_rules, notify_text
from reminders.clock import Clock
from reminders.formatting import short_time
from storage import (
    child_store,
    contact_store,
    episode_store,
    escalation_store,
    message_keys,
    notify_store,
    outbox_store,
    staff_store,
)
from storage.db import Database, Reader, Tx
from storage.models import EpisodeState, Escalation, EscalationState, Recipient
from storage.notify_store import FollowUp

URGENCIES = ("urgent", "routine")
CODES_KEPT = timedelta(days=7)  # a person's ACK codes are distinct over this long


async def decision_for(
    r: Reader, preset: Preset, staff_id: str, urgent: bool
) -> notification_rules.Decision | None:
    """The person's chain for an urgent or routine alert, with what they can receive."""
    person = await staff_store.get_staff(r, staff_id)
    if person is None:
        return None
    urgency = "urgent" if urgent else "routine"
    own = await notify_store.get_rule(r, notify_store.staff_scope(staff_id), urgency)
    role = await notify_store.get_rule(r, notify_store.role_scope(person.role.value), urgency)
    verified = {str(m.method) for m in await contact_store.methods_of(r, staff_id)}
    return notification_rules.decide(urgent, preset.notifications, role, own, verified)


def is_urgent(preset: Preset, esc: Escalation) -> bool:
    ladder = preset.ladders.get(esc.ladder)
    return ladder is not None and ladder.urgent


async def alert_queued(
    tx: Tx, preset: Preset, now: datetime, esc: Escalation, staff_id: str, alert_key: str
) -> None:
    """A climb has queued an alert to this person in chat: time its later methods."""
    if not esc.needs_ack:
        return
    urgent = is_urgent(preset, esc)
    decision = await decision_for(tx, preset, staff_id, urgent)
    if decision is None:
        return
    for method, after in decision.sends:
        await notify_store.add_follow_up(
            tx,
            idem_key=message_keys.alert_follow_up(esc.id, esc.cycle, staff_id, method).text,
            escalation_id=esc.id,
            cycle=esc.cycle,
            alert_key=alert_key,
            staff_id=staff_id,
            method=method,
            urgent=urgent,
            due_at=now + after,
            now=now,
        )


def still_waiting(esc: Escalation, follow_up: FollowUp, found: bool) -> bool:
    """Nobody has taken it since the person was alerted, and the climb is still in that cycle."""
    if found or esc.cycle != follow_up.cycle:
        return False
    if esc.state not in (EscalationState.ACTIVE, EscalationState.DONE):
        return False  # taken (acked, confirming), or stopped
    return esc.acked_at is None or esc.acked_at < follow_up.created_at


async def _ack_code(tx: Tx, staff_id: str, esc: Escalation, now: datetime) -> str:
    existing = await notify_store.ack_code_for(tx, staff_id, esc.id, esc.cycle)
    if existing is not None:
        return existing.code
    taken = await notify_store.codes_in_use(tx, staff_id, now - CODES_KEPT)
    tries = (f"{secrets.randbelow(9000) + 1000}" for _ in range(1000))
    code = next((c for c in tries if c not in taken), f"{secrets.randbelow(9000) + 1000}")
    return (await notify_store.add_ack_code(tx, staff_id, esc.id, esc.cycle, code, now)).code


def _rule(preset: Preset, esc: Escalation, at: datetime) -> str:
    """The rule the alert was sent under (ABS-SW in office hours, ABS-OOH outside)."""
    out_of_hours = esc.context.ladder.rule_out_of_hours
    if out_of_hours and not preset.calendar.in_office_hours(at):
        return out_of_hours
    return esc.rule_id


async def fire(tx: Tx, presets: dict[str, Preset], now: datetime, follow_up: FollowUp) -> bool:
    """Send a due follow-up if its alert is still waiting; True if it was queued."""
    esc = await escalation_store.get_escalation(tx, follow_up.escalation_id)
    episode = await episode_store.get_episode(tx, esc.episode_id) if esc else None
    child = await child_store.get_child(tx, esc.child_id) if esc else None
    if esc is None or episode is None or child is None:
        await notify_store.settle_follow_up(tx, follow_up.id, "dropped")
        return False
    if not still_waiting(esc, follow_up, episode.state is not EpisodeState.OPEN):
        await notify_store.settle_follow_up(tx, follow_up.id, "dropped")
        return False
    method = contact_store.Method(follow_up.method)
    if await contact_store.address(tx, follow_up.staff_id, method) is None:
        # they left, or removed the number since: nothing to send it to
        await notify_store.settle_follow_up(tx, follow_up.id, "dropped")
        return False
    preset = presets[child.area]
    rule = _rule(preset, esc, follow_up.created_at)
    since = short_time(follow_up.created_at, preset.zone)
    if follow_up.method == "sms":
        code = await _ack_code(tx, follow_up.staff_id, esc, now)
        recipient = Recipient.sms(follow_up.staff_id)
        text = notify_text.sms_alert(child.ref, follow_up.urgent, rule, since, code)
    else:
        recipient = Recipient.email(follow_up.staff_id)
        text = notify_text.email_alert(preset, child, episode, follow_up.urgent, rule, since, now)
    await outbox_store.enqueue(
        tx,
        idem_key=message_keys.MessageKey(follow_up.idem_key, esc.id),
        recipient=recipient,
        text=text,
        rule_id=rule,
        now=now,
        episode_id=episode.id,
        child_id=child.id,
        due_at=follow_up.due_at,
    )
    await notify_store.settle_follow_up(tx, follow_up.id, "queued")
    return True


async def alert_key_of(r: Reader, idem_key: str) -> str | None:
    """The chat alert a follow-up message belongs to: its failure is that alert's, and moves
    the climb on as an unreachable person does."""
    follow_up = await notify_store.follow_up_by_key(r, idem_key)
    return follow_up.alert_key if follow_up else None


class FollowUpJobs:
    """The sweeper's job (reminders.sweeper.ScheduledJobs) that sends due follow-ups."""

    def __init__(self, db: Database, clock: Clock, presets: dict[str, Preset], batch: int = 200):
        self.db = db
        self.clock = clock
        self.presets = presets
        self.batch = batch

    async def next_due(self) -> datetime | None:
        return await notify_store.next_follow_up_due(self.db)

    async def run_due(self) -> int:
        fired = 0
        while True:
            now = self.clock.now()
            due = await notify_store.due_follow_ups(self.db, now, self.batch)
            for item in due:
                async with self.db.write() as tx:
                    fresh = await notify_store.get_follow_up(tx, item.id)
                    if fresh is not None and fresh.state == "waiting":
                        fired += await fire(tx, self.presets, now, fresh)
            if len(due) < self.batch:
                return fired
