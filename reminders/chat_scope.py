"""Which teams a chat can be registered to, and whose scope covers each: one rule for every
transport (handlers/chat_registration.py asks it).

The teams are the homes and teams the staff list and the children name, plus two of the
service's own: `out-of-hours` and `managers` (the whole service's daily summary). A home's
chat is registered by its carers' manager or its team manager, or anyone above them in the
line; `out-of-hours` by the out-of-hours manager (the staff role, or whoever holds it on the
rota now) or above; `managers` by the head of service, an assistant director or the
director, who may register any team. Every team chat shows children (alerts name a child by
reference and first name; /status lists them), so an admin, who sets chats up but may see no
child, registers one only where the preset of every area it shows says so
(`admins_register_chats`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from config.presets import Preset
from storage import child_store, rota_store, staff_store
from storage.db import Reader
from storage.models import Role, Staff

OUT_OF_HOURS_TEAM = "out-of-hours"
MANAGERS_TEAM = "managers"  # the whole service: the daily summary goes to its chats
# Team chats that are not a home's (a home's chat lists only its own children). `duty`,
# `police` and `missing` are older names: chats registered under them before registration
# was checked still work, but no new chat can take them.
SERVICE_TEAMS = frozenset({OUT_OF_HOURS_TEAM, MANAGERS_TEAM, "duty", "police", "missing"})

SENIOR = frozenset({Role.HEAD_OF_SERVICE, Role.ASSISTANT_DIRECTOR, Role.DIRECTOR})
# Roles a registration can come from at all (a home's carers' manager may be a carer); the
# scope below decides which teams each may register.
REGISTRARS = frozenset(
    {Role.ADMIN, Role.CARER, Role.TEAM_MANAGER, Role.OUT_OF_HOURS_MANAGER} | SENIOR
)
# Who may list the registered chats (/chats).
CHAT_LISTERS = frozenset({Role.ADMIN, Role.TEAM_MANAGER, Role.OUT_OF_HOURS_MANAGER} | SENIOR)
OUT_OF_HOURS_MANAGER_ON_ROTA = "out_of_hours_manager"  # the rota role (config.vocabulary)


class TeamKind(StrEnum):
    HOME = "home"
    TEAM = "team"
    OUT_OF_HOURS = "out_of_hours"
    MANAGERS = "managers"


# Who registers each kind, as a refusal says it.
WHO_REGISTERS = {
    TeamKind.HOME: "its carers' manager or team manager, or someone above them",
    TeamKind.TEAM: "its team manager or its staff's manager, or someone above them",
    TeamKind.OUT_OF_HOURS: "the out-of-hours manager, or someone above them",
    TeamKind.MANAGERS: "the head of service, an assistant director or the director",
}


@dataclass(frozen=True)
class Teams:
    """The teams as the staff list, the children and the rota make them, right now."""

    kinds: dict[str, TeamKind]  # by name as stored (what alerts are addressed to)
    leads: dict[str, frozenset[str]]  # team -> staff ids whose scope is it (before "above")
    areas: dict[str, frozenset[str]]  # team -> the areas of the children its chat shows
    managers: dict[str, str]  # staff id -> their manager's id (active staff)

    def find(self, typed: str) -> str | None:
        """The team `typed` names (case aside), as stored; None if none."""
        wanted = typed.strip().lower()
        return next((name for name in self.kinds if name.lower() == wanted), None)

    def close_to(self, typed: str) -> list[str]:
        names = {name.lower(): name for name in self.kinds}
        return [names[n] for n in difflib.get_close_matches(typed.strip().lower(), names, 3, 0.6)]

    def above(self, staff_ids: Iterable[str]) -> set[str]:
        """The people and everyone up their lines (a loop in the lines ends the climb)."""
        seen: set[str] = set()
        for start in staff_ids:
            person: str | None = start
            while person is not None and person not in seen:
                seen.add(person)
                person = self.managers.get(person)
        return seen


async def load_teams(r: Reader, now: datetime) -> Teams:
    staff = [s for s in await staff_store.list_staff(r) if s.active]
    links = await child_store.home_links(r)
    all_areas = frozenset(area for _, _, area in links)
    kinds: dict[str, TeamKind] = {}
    leads: dict[str, set[str]] = {}
    areas: dict[str, set[str]] = {}
    for home, team_manager, area in links:
        kinds[home] = TeamKind.HOME
        areas.setdefault(home, set()).add(area)
        if team_manager:
            leads.setdefault(home, set()).add(team_manager)
    for s in staff:
        if s.home and s.home not in SERVICE_TEAMS:
            kinds.setdefault(s.home, TeamKind.HOME)
            if s.role is Role.TEAM_MANAGER:
                leads.setdefault(s.home, set()).add(s.id)
            elif s.role is Role.CARER and s.manager_id:
                leads.setdefault(s.home, set()).add(s.manager_id)
        if s.team and s.team not in SERVICE_TEAMS:
            kinds.setdefault(s.team, TeamKind.TEAM)
            if s.role is Role.TEAM_MANAGER:
                leads.setdefault(s.team, set()).add(s.id)
            elif s.manager_id:
                leads.setdefault(s.team, set()).add(s.manager_id)
    kinds[OUT_OF_HOURS_TEAM] = TeamKind.OUT_OF_HOURS
    kinds[MANAGERS_TEAM] = TeamKind.MANAGERS
    leads[OUT_OF_HOURS_TEAM] = {s.id for s in staff if s.role is Role.OUT_OF_HOURS_MANAGER} | set(
        await rota_store.on_rota(r, OUT_OF_HOURS_MANAGER_ON_ROTA, now)
    )
    for name, kind in kinds.items():
        if kind is not TeamKind.HOME or name not in areas:
            areas[name] = set(all_areas)  # a team's chat may list any child its people see
    active = {s.id for s in staff}
    return Teams(
        kinds=kinds,
        leads={name: frozenset(leads.get(name, set()) & active) for name in kinds},
        areas={name: frozenset(found) for name, found in areas.items()},
        managers={s.id: s.manager_id for s in staff if s.manager_id in active},
    )


@dataclass(frozen=True)
class Scope:
    """Whether `staff` may register `team`'s chat, and if not, why (a refusal's words)."""

    allowed: bool
    reason: str = ""


def may_register(
    staff: Staff, team: str, teams: Teams, presets: dict[str, Preset], *, removing: bool = False
) -> Scope:
    """`team` as Teams.find gave it. `removing`: an admin may always take a chat down (that
    shows nobody anything), so /unregister lets admins in."""
    kind = teams.kinds[team]
    if staff.role is Role.ADMIN:
        if removing:
            return Scope(True)
        areas = teams.areas.get(team) or frozenset(presets)
        if areas and all(a in presets and presets[a].admins_register_chats for a in areas):
            return Scope(True)
        return Scope(
            False,
            f"Admins set up chats but can't make one a team's chat: the {team} chat shows "
            f"children. Ask {WHO_REGISTERS[kind]} to send /register {team} here.",
        )
    if staff.role in SENIOR:
        return Scope(True)
    if kind is not TeamKind.MANAGERS and staff.id in teams.above(teams.leads.get(team, ())):
        return Scope(True)
    who = f"The {team} chat is registered by {WHO_REGISTERS[kind]}"
    if staff.role in CHAT_LISTERS or any(staff.id in leads for leads in teams.leads.values()):
        return Scope(
            False,
            f"You can't register {team}: it isn't in your scope. {who}: ask them to send "
            f"/register {team} here.",
        )
    return Scope(
        False,
        f"Only an admin or a manager can register a team chat. {who}: ask them to send "
        f"/register {team} here.",
    )
