"""Who a ladder step means, right now: through the child, office hours and the rota.

In office hours "the social worker" is the child's allocated social worker (then their team
manager); out of hours it is whoever the rota has on out-of-hours duty (ABS-SW, ABS-OOH,
MIS-NOTIFY, MIS-NEXTDAY). Rota roles resolve only through the rota: nobody on it is a gap
that the caller reports, never a silent drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from config.presets import Preset
from storage import rota_store, staff_store
from storage.db import Reader
from storage.models import Child, Episode, Recipient, Role

ROTA_ROLES = ("out_of_hours", "out_of_hours_manager", "police_liaison", "missing_coordinator")


@dataclass
class Resolved:
    recipients: list[Recipient] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # audiences that resolved to nobody

    def add(self, recipient: Recipient) -> None:
        if recipient not in self.recipients:
            self.recipients.append(recipient)


def describe(audience: str, office: bool) -> str:
    """The audience as the person reading a gap report knows it."""
    if audience == "social_worker":
        return (
            "allocated social worker or team manager"
            if office
            else "out-of-hours duty worker on the rota"
        )
    if audience == "manager":
        return "team manager" if office else "out-of-hours manager on the rota"
    if audience in ROTA_ROLES:
        return audience.replace("_", " ") + " on the rota"
    return {"home_team": "home team chat", "iro": "IRO", "admins": "admin"}.get(
        audience, audience.replace("_", " ")
    )


async def resolve(
    r: Reader,
    audiences: list[str] | tuple[str, ...],
    *,
    preset: Preset,
    child: Child,
    episode: Episode,
    now: datetime,
    office: bool | None = None,
) -> Resolved:
    """`office` forces office-hours meaning (duties belong to the allocated people)."""
    result = Resolved()
    if office is None:
        office = preset.calendar.in_office_hours(now)
    for audience in audiences:
        found = await _one(r, audience, office=office, child=child, episode=episode, now=now)
        if not found:
            result.gaps.append(describe(audience, office))
        for recipient in found:
            result.add(recipient)
    return result


async def _one(
    r: Reader, audience: str, *, office: bool, child: Child, episode: Episode, now: datetime
) -> list[Recipient]:
    if audience == "reporter":
        return [Recipient.staff(episode.reported_by)]
    if audience == "home_team":
        return [Recipient.team(child.home)] if child.home else []
    if audience == "iro":
        return [Recipient.staff(child.iro_id)] if child.iro_id else []
    if audience == "admins":
        return [Recipient.staff(s.id) for s in await staff_store.staff_with_role(r, Role.ADMIN)]
    if audience in ROTA_ROLES:
        return [Recipient.staff(s) for s in await rota_store.on_rota(r, audience, now)]
    if audience == "social_worker":
        if not office:
            return [Recipient.staff(s) for s in await rota_store.on_rota(r, "out_of_hours", now)]
        if child.social_worker_id:
            return [Recipient.staff(child.social_worker_id)]
        return await _team_manager(r, child)
    if audience == "manager":
        if not office:
            return [
                Recipient.staff(s) for s in await rota_store.on_rota(r, "out_of_hours_manager", now)
            ]
        return await _team_manager(r, child)
    if audience == "team_manager":
        return await _team_manager(r, child)
    if audience in ("head_of_service", "assistant_director", "director"):
        people = await staff_store.staff_with_role(r, Role(audience))
        if not people and audience == "director":  # NS §4.3: or an Assistant Director
            people = await staff_store.staff_with_role(r, Role.ASSISTANT_DIRECTOR)
        return [Recipient.staff(s.id) for s in people]
    raise ValueError(f"unknown audience {audience!r}")


async def _team_manager(r: Reader, child: Child) -> list[Recipient]:
    if child.team_manager_id:
        return [Recipient.staff(child.team_manager_id)]
    if child.social_worker_id:
        worker = await staff_store.get_staff(r, child.social_worker_id)
        if worker and worker.manager_id:
            return [Recipient.staff(worker.manager_id)]
    return []
