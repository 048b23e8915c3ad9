"""How roles are said and typed: one table for every reply, list and rota report.

A role is stored as its id (`out_of_hours`); people read it as words ("out-of-hours duty
worker") and type it as they say it ("OOH", "EDT", "on-call manager"). Rota roles and
audiences use the same ids as staff roles where they mean the same person.
"""

from __future__ import annotations

from storage.models import Role

# Role id -> what a person reads. A role not listed reads as its id with spaces.
SAID: dict[str, str] = {
    Role.CARER: "carer",
    Role.SOCIAL_WORKER: "social worker",
    Role.TEAM_MANAGER: "team manager",
    Role.OUT_OF_HOURS: "out-of-hours duty worker",
    Role.OUT_OF_HOURS_MANAGER: "out-of-hours manager",
    Role.POLICE_LIAISON: "police liaison",
    Role.IRO: "IRO",
    Role.MISSING_COORDINATOR: "missing coordinator",
    Role.HEAD_OF_SERVICE: "head of service",
    Role.ASSISTANT_DIRECTOR: "assistant director",
    Role.DIRECTOR: "director",
    Role.ADMIN: "admin",
}

# What people type for a role, beyond its words and its id (lower case, spaces single).
TYPED: dict[str, str] = {
    "ooh": Role.OUT_OF_HOURS,
    "edt": Role.OUT_OF_HOURS,
    "out-of-hours": Role.OUT_OF_HOURS,
    "duty worker": Role.OUT_OF_HOURS,
    "ooh manager": Role.OUT_OF_HOURS_MANAGER,
    "oohm": Role.OUT_OF_HOURS_MANAGER,
    "on-call manager": Role.OUT_OF_HOURS_MANAGER,
    "police": Role.POLICE_LIAISON,
    "coordinator": Role.MISSING_COORDINATOR,
    "sw": Role.SOCIAL_WORKER,
    "tm": Role.TEAM_MANAGER,
}


def said(role: str) -> str:
    """A person's role: 'out_of_hours' -> 'out-of-hours duty worker'."""
    return SAID.get(role, role.replace("_", " "))


def on_rota(role: str) -> str:
    """A rota role as a duty one is on: 'out_of_hours' -> 'out of hours' ("you are on out
    of hours, Fri 17:00 to Mon 09:00")."""
    return role.replace("_", " ")


def typed(word: str) -> str | None:
    """The role id a person's word stands for, from the table or the role's own words."""
    text = " ".join(word.strip().lower().split())
    if text in TYPED:
        return str(TYPED[text])
    for role, words in SAID.items():
        if text == words.lower():
            return str(role)
    return None
