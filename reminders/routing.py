"""Who a ladder step means, right now: through the child, office hours and the rota.

In office hours "the social worker" is the child's allocated social worker (then their team
manager); out of hours it is whoever the rota has on out-of-hours duty (ABS-SW, ABS-OOH,
MIS-NOTIFY, MIS-NEXTDAY). Rota roles resolve only through the rota: nobody on it is a gap
that the caller reports, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from config.presets import Preset
from config.role_words import said
from config.vocabulary import AUDIENCES as AUDIENCE_NAMES
from config.vocabulary import Audience, require_all
from storage import rota_store, staff_store
from storage.db import Reader
from storage.models import Child, Episode, Recipient, Role

ROTA_ROLES: tuple[Audience, ...] = (
    "out_of_hours",
    "out_of_hours_manager",
    "police_liaison",
    "missing_coordinator",
)


@dataclass
class Resolved:
    recipients: list[Recipient] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # audiences that resolved to nobody

    def add(self, recipient: Recipient) -> None:
        if recipient not in self.recipients:
            self.recipients.append(recipient)


def describe(audience: str, office: bool) -> str:
    """The audience as the person reading a gap report knows it."""
    entry = _meaning(audience)
    return entry.in_office if office else entry.out_of_hours


async def resolve(
    r: Reader,
    audiences: Sequence[str],
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
        found = await _meaning(audience).resolve(
            Asked(r, office=office, child=child, episode=episode, now=now)
        )
        if not found and describe(audience, office) not in result.gaps:
            result.gaps.append(describe(audience, office))  # each missing role named once
        for recipient in found:
            result.add(recipient)
    return result


@dataclass(frozen=True)
class Asked:
    """Who an audience means depends on these."""

    r: Reader
    office: bool  # office hours (or a duty, which belongs to the allocated people)
    child: Child
    episode: Episode
    now: datetime


async def _active(r: Reader, staff_id: str | None) -> str | None:
    """The person if they are still here, else None (someone who has left is nobody's)."""
    if staff_id is None:
        return None
    person = await staff_store.get_staff(r, staff_id)
    return person.id if person is not None and person.active else None


async def _up_the_line(r: Reader, staff_id: str | None) -> str | None:
    """The person, or if they have left the first of their managers (manager_id chain) who
    has not: where what a leaver held goes by the normal rules."""
    seen: set[str] = set()
    while staff_id is not None and staff_id not in seen:
        seen.add(staff_id)
        person = await staff_store.get_staff(r, staff_id)
        if person is None:
            return None
        if person.active:
            return person.id
        staff_id = person.manager_id
    return None


async def _reporter(a: Asked) -> list[Recipient]:
    reporter = await _active(a.r, a.episode.reported_by)
    return [Recipient.staff(reporter)] if reporter else []


async def _home_team(a: Asked) -> list[Recipient]:
    return [Recipient.team(a.child.home)] if a.child.home else []


async def _iro(a: Asked) -> list[Recipient]:
    iro = await _up_the_line(a.r, a.child.iro_id)
    return [Recipient.staff(iro)] if iro else []


async def _cp_chair(a: Asked) -> list[Recipient]:
    chair = await _up_the_line(a.r, a.child.cp_chair_id)
    return [Recipient.staff(chair)] if chair else []


async def _missing_tray(a: Asked) -> list[Recipient]:
    """B LCS §1.9's "Missing Tray": a tray is read whoever is on shift, so with nobody on
    the rota it is everyone who holds the missing coordinator's role."""
    on_shift = await _on_rota("missing_coordinator")(a)
    if on_shift:
        return on_shift
    holders = await staff_store.staff_with_role(a.r, Role.MISSING_COORDINATOR)
    return [Recipient.staff(s.id) for s in holders if s.active]


async def _admins(a: Asked) -> list[Recipient]:
    return [Recipient.staff(s.id) for s in await staff_store.staff_with_role(a.r, Role.ADMIN)]


def _on_rota(role: str) -> Resolver:
    async def resolve(a: Asked) -> list[Recipient]:
        # on_rota returns only people still here
        return [Recipient.staff(s) for s in await rota_store.on_rota(a.r, role, a.now)]

    return resolve


async def _social_worker(a: Asked) -> list[Recipient]:
    if not a.office:
        return await _on_rota("out_of_hours")(a)
    worker = await _active(a.r, a.child.social_worker_id)
    if worker:
        return [Recipient.staff(worker)]
    return await _team_manager(a.r, a.child)


async def _manager(a: Asked) -> list[Recipient]:
    if not a.office:
        return await _on_rota("out_of_hours_manager")(a)
    return await _team_manager(a.r, a.child)


async def _child_team_manager(a: Asked) -> list[Recipient]:
    return await _team_manager(a.r, a.child)


def _with_role(role: Role, otherwise: Role | None = None) -> Resolver:
    async def resolve(a: Asked) -> list[Recipient]:
        people = await staff_store.staff_with_role(a.r, role)
        if not people and otherwise is not None:
            people = await staff_store.staff_with_role(a.r, otherwise)
        return [Recipient.staff(s.id) for s in people]

    return resolve


async def _team_manager(r: Reader, child: Child) -> list[Recipient]:
    """The child's team manager; one who has left: up their line, else the worker's manager."""
    manager = await _up_the_line(r, child.team_manager_id)
    if manager is None and child.social_worker_id:
        worker = await staff_store.get_staff(r, child.social_worker_id)
        if worker and worker.manager_id:
            manager = await _up_the_line(r, worker.manager_id)
    return [Recipient.staff(manager)] if manager else []


Resolver = Callable[[Asked], Awaitable[list[Recipient]]]


@dataclass(frozen=True)
class Meaning:
    """Who an audience is right now, and how a gap report names it."""

    resolve: Resolver
    in_office: str
    out_of_hours: str = ""  # the same words unless given

    def __post_init__(self) -> None:
        if not self.out_of_hours:
            object.__setattr__(self, "out_of_hours", self.in_office)


def _rota(role: Audience) -> Meaning:
    """Rota roles resolve only through the rota: nobody on it is a gap."""
    # the same words whichever audience reached it: a gap report names each role once
    return Meaning(_on_rota(role), said(role) + " on the rota")


# One entry per name of config.vocabulary's Audience (checked below). Keyed by str: a climb
# started under an older preset carries its audiences as stored text.
AUDIENCES: dict[str, Meaning] = {
    "reporter": Meaning(_reporter, "reporter"),
    "home_team": Meaning(_home_team, "home team chat"),
    "social_worker": Meaning(
        _social_worker,
        "allocated social worker or team manager",
        "out-of-hours duty worker on the rota",
    ),
    "manager": Meaning(_manager, "team manager", "out-of-hours manager on the rota"),
    "out_of_hours": _rota("out_of_hours"),
    "out_of_hours_manager": _rota("out_of_hours_manager"),
    "police_liaison": _rota("police_liaison"),
    "iro": Meaning(_iro, "IRO"),
    "cp_chair": Meaning(_cp_chair, "child protection chair"),
    "missing_tray": Meaning(_missing_tray, "missing tray (missing coordinator)"),
    "missing_coordinator": _rota("missing_coordinator"),
    "admins": Meaning(_admins, "admin"),
    "team_manager": Meaning(_child_team_manager, "team manager"),
    "head_of_service": Meaning(_with_role(Role.HEAD_OF_SERVICE), "head of service"),
    "assistant_director": Meaning(_with_role(Role.ASSISTANT_DIRECTOR), "assistant director"),
    # NS §4.3: or an Assistant Director
    "director": Meaning(_with_role(Role.DIRECTOR, Role.ASSISTANT_DIRECTOR), "director"),
}
require_all("audiences", AUDIENCE_NAMES, AUDIENCES)


def _meaning(audience: str) -> Meaning:
    try:
        return AUDIENCES[audience]
    except KeyError:
        raise ValueError(f"unknown audience {audience!r}") from None
