"""Someone leaves: cut off everywhere at once, and what they held handed on in the same write.

Their chat accounts are revoked, routing and duty ownership skip them from now on (routing
resolves only active staff), and the outbox refuses them. What they held moves to the next
person the normal rules give: an alert they had taken, or one waiting on their answer, climbs
on from its next step; an open duty goes to whoever its owner rule resolves now; their rota
shifts still ahead are removed, each a gap to fill. Their manager (up the line) and the
admins get one message saying what moved and what could not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from config.presets import Preset
from reminders import duties, escalation
from reminders.formatting import local_time
from storage import (
    child_store,
    duty_store,
    episode_store,
    escalation_store,
    outbox_store,
    rota_store,
    staff_store,
)
from storage.db import Tx
from storage.models import Recipient, Role, Staff


class NotALeaver(ValueError):
    """No such person, or they have already left: nothing was changed."""


@dataclass
class Handover:
    person: Staff
    accounts: int = 0  # chat accounts revoked
    moved: list[str] = field(default_factory=list)
    not_moved: list[str] = field(default_factory=list)
    told: list[str] = field(default_factory=list)  # staff ids told of it

    def summary(self, by_name: str, reason: str | None) -> str:
        lines = [
            f"{self.person.name} ({self.person.id}) has left, recorded by {by_name}"
            + (f": {reason}" if reason else "")
            + f". {self.accounts} chat account(s) revoked; they get no more alerts or duties.",
        ]
        if self.moved:
            lines.append("Handed on:")
            lines += [f"- {line}" for line in self.moved]
        if self.not_moved:
            lines.append("Could not be handed on (needs someone now):")
            lines += [f"- {line}" for line in self.not_moved]
        if not self.moved and not self.not_moved:
            lines.append("They held no alerts, open duties or shifts ahead.")
        return "\n".join(lines)


async def leave(
    tx: Tx,
    presets: dict[str, Preset],
    zone: ZoneInfo,
    now: datetime,
    staff_id: str,
    by: Staff | None,
    reason: str | None,
) -> Handover:
    """Record the leave and hand on what they held, all in `tx` (raises NotALeaver, having
    written nothing, if there is nobody active by that id). `zone` words the times of rota
    gaps."""
    person = await staff_store.get_staff(tx, staff_id)
    if person is None:
        raise NotALeaver(f"There is no staff member {staff_id!r}.")
    if not await staff_store.mark_left(tx, staff_id, now, by.id if by else None, reason):
        raise NotALeaver(f"{person.name} ({staff_id}) has already left.")
    handover = Handover(person)
    handover.accounts = await staff_store.revoke_identities(tx, staff_id)
    await episode_store.append_event(
        tx, episode_id=None, child_id=None, at=now, recorded_at=now,
        actor_id=by.id if by else None, kind="left",
        text=f"{staff_id} left" + (f": {reason}" if reason else ""),
    )  # fmt: skip
    await _climbs(tx, presets, now, person, handover)
    await _duties(tx, presets, now, person, handover)
    actor = by.id if by else None
    for role, start, end in await rota_store.remove_future_shifts(tx, staff_id, now, actor):
        span = f"{local_time(start, zone)} to {local_time(end, zone)}"
        others = [i for i in await rota_store.on_rota(tx, role, start) if i != staff_id]
        cover = f"{', '.join(others)} also on at its start" if others else "nobody else is on"
        handover.not_moved.append(
            f"rota {role.replace('_', ' ')} {span}: removed, {cover}; put someone on it"
        )
    await _tell(tx, now, person, by, reason, handover)
    return handover


async def _climbs(
    tx: Tx, presets: dict[str, Preset], now: datetime, person: Staff, handover: Handover
) -> None:
    for esc in await escalation_store.live_escalations_of(tx, person.id):
        episode = await episode_store.get_episode(tx, esc.episode_id)
        child = await child_store.get_child(tx, esc.child_id)
        if episode is None or child is None:
            continue
        held = esc.acked_by == person.id
        if await escalation.release_leaver(
            tx, presets[child.area], now, esc, episode, child, person.id
        ):
            what = "they had taken" if held else "waiting on their answer"
            handover.moved.append(
                f"the alert for {child.label} {what}: climbing on to the next person now"
            )


async def _duties(
    tx: Tx, presets: dict[str, Preset], now: datetime, person: Staff, handover: Handover
) -> None:
    for duty in await duty_store.open_duties(tx, person.id):
        child = await child_store.get_child(tx, duty.child_id)
        episode = await episode_store.get_episode(tx, duty.episode_id) if duty.episode_id else None
        if child is None or episode is None:
            handover.not_moved.append(f"duty {duty.label} [{duty.rule_id}]: no episode to go by")
            continue
        owner = await duties.reassign_from_leaver(
            tx, presets[child.area], now, duty, child, episode
        )
        if owner is None:
            handover.not_moved.append(
                f"duty {duty.label} [{duty.rule_id}] for {child.label}: nobody to own it"
            )
        else:
            who = await staff_store.get_staff(tx, owner)
            handover.moved.append(
                f"duty {duty.label} [{duty.rule_id}] for {child.label}: now "
                f"{who.name if who else owner}'s"
            )


async def _tell(
    tx: Tx, now: datetime, person: Staff, by: Staff | None, reason: str | None, h: Handover
) -> None:
    """One message each to their manager (the first still here up the line) and the admins."""
    targets: list[str] = []
    manager_id = person.manager_id
    seen: set[str] = {person.id}
    while manager_id and manager_id not in seen:
        seen.add(manager_id)
        manager = await staff_store.get_staff(tx, manager_id)
        if manager is None:
            break
        if manager.active:
            targets.append(manager.id)
            break
        manager_id = manager.manager_id
    targets += [s.id for s in await staff_store.staff_with_role(tx, Role.ADMIN)]
    text = h.summary(by.name if by else "an admin (command line)", reason)
    for staff_id in dict.fromkeys(targets):
        if by is not None and staff_id == by.id:
            continue  # the person who recorded it has the summary as their reply
        await outbox_store.enqueue(
            tx,
            idem_key=f"left:{person.id}:{now.isoformat()}:{staff_id}",
            recipient=Recipient.staff(staff_id),
            text=text,
            now=now,
        )
        h.told.append(staff_id)
