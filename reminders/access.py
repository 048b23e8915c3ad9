"""Who may see and do what. One table, used by every transport and by the alerts (who may take one)."""

from __future__ import annotations

from config.role_words import said
from storage.models import Child, Role, Staff

# Roles that work across the whole service rather than a home or a caseload.
SERVICE_WIDE = frozenset(
    {
        Role.OUT_OF_HOURS,
        Role.OUT_OF_HOURS_MANAGER,
        Role.POLICE_LIAISON,
        Role.MISSING_COORDINATOR,
        Role.HEAD_OF_SERVICE,
        Role.ASSISTANT_DIRECTOR,
        Role.DIRECTOR,
    }
)

_FRONT_LINE = frozenset(
    {
        Role.CARER,
        Role.SOCIAL_WORKER,
        Role.TEAM_MANAGER,
        Role.OUT_OF_HOURS,
        Role.OUT_OF_HOURS_MANAGER,
        Role.MISSING_COORDINATOR,
    }
)

# action -> roles allowed to do it (on children they can see)
ACTIONS: dict[str, frozenset[Role]] = {
    "report": _FRONT_LINE,
    "update": _FRONT_LINE | {Role.POLICE_LIAISON},
    "concern": _FRONT_LINE,
    "police": _FRONT_LINE | {Role.POLICE_LIAISON},
    "found": _FRONT_LINE | {Role.POLICE_LIAISON},
    "rhi": frozenset(
        {
            Role.SOCIAL_WORKER,
            Role.TEAM_MANAGER,
            Role.OUT_OF_HOURS,
            Role.OUT_OF_HOURS_MANAGER,
            Role.MISSING_COORDINATOR,
        }
    ),
    # Taking an alert ("I've got it"): the people the ladders alert, not the carers they support.
    "ack": frozenset(
        {
            Role.SOCIAL_WORKER,
            Role.TEAM_MANAGER,
            Role.OUT_OF_HOURS,
            Role.OUT_OF_HOURS_MANAGER,
            Role.MISSING_COORDINATOR,
            Role.POLICE_LIAISON,
            Role.HEAD_OF_SERVICE,
            Role.ASSISTANT_DIRECTOR,
            Role.DIRECTOR,
        }
    ),
    # DIR-LETTER: drafting and signing the letter to another authority's Director.
    "letter": frozenset(
        {
            Role.SOCIAL_WORKER,
            Role.TEAM_MANAGER,
            Role.HEAD_OF_SERVICE,
            Role.ASSISTANT_DIRECTOR,
            Role.DIRECTOR,
            Role.MISSING_COORDINATOR,
        }
    ),
    # The full profile and trigger plan (Philomena fields): by direct message only.
    "profile": frozenset(Role) - {Role.ADMIN},
    # RET-FINAL: a manager agrees the episode is closed.
    "finalise": frozenset({Role.TEAM_MANAGER, Role.HEAD_OF_SERVICE}),
    "view": frozenset(Role) - {Role.ADMIN},
}


def can_see(staff: Staff, child: Child) -> bool:
    """Carers see their home's children; social workers, managers and IROs their own."""
    narrow = caseload(staff)
    return narrow is None or getattr(child, narrow[0]) == narrow[1]


def caseload(staff: Staff) -> tuple[str, str] | None:
    """Whom `can_see` lets a person see, as (a child's field, value); None: every child.
    The field is also the children table's column, so a query can narrow by it first."""
    if staff.role in SERVICE_WIDE:
        return None
    column = {
        Role.CARER: "home",
        Role.SOCIAL_WORKER: "social_worker_id",
        Role.TEAM_MANAGER: "team_manager_id",
        Role.IRO: "iro_id",
    }.get(staff.role)
    value = staff.home if staff.role is Role.CARER else staff.id
    if column is None or value is None:
        return ("id", "")  # sees no child: matches none
    return (column, value)


def may(staff: Staff, action: str, child: Child) -> bool:
    return staff.role in ACTIONS[action] and can_see(staff, child)


def action_refusal(staff: Staff, action: str, child: Child) -> str:
    """Why `may` said no, in words the person can act on."""
    if not can_see(staff, child):
        return (
            f"You can't act on {child.ref}: the child is not in your home or caseload. "
            "Ask the duty team or your manager."
        )
    allowed = ", ".join(sorted(said(r) for r in ACTIONS[action]))
    return f"Your role ({staff.role.value.replace('_', ' ')}) can't do that. It is for: {allowed}."
