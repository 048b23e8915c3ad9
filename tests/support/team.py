"""The one place a test team is built: staff, children and rota, imported into a database.

Every rig (the harness, the Telegram and Slack rigs, the conftest `svc`, the crash loop)
builds its team here; a test changes only what it needs (an extra carer, a second child,
the weekend rota) and gets the rest of the standard cast.
"""

from __future__ import annotations

from typing import Any

from bot.admin import import_team
from bot.cli import demo_team_path
from config.team import TeamFile, load_team_file
from storage.db import Database

STAFF = [
    {"id": "sam", "name": "Sam", "role": "carer", "home": "oak"},
    {"id": "alex", "name": "Alex", "role": "carer", "home": "oak"},
    {"id": "priya", "name": "Priya", "role": "social_worker", "manager": "tom"},
    {"id": "tom", "name": "Tom", "role": "team_manager"},
    {"id": "ooh1", "name": "Olu", "role": "out_of_hours"},
    {"id": "ooh2", "name": "Ola", "role": "out_of_hours"},
    {"id": "oohm", "name": "Morgan", "role": "out_of_hours_manager"},
    {"id": "pc1", "name": "PC Rees", "role": "police_liaison"},
    {"id": "iro1", "name": "Irene", "role": "iro"},
    {"id": "admin", "name": "Ada", "role": "admin"},
]

DEFAULT_AREA = "west-yorkshire"


def child(**extra: Any) -> dict[str, Any]:
    """Jay at Oak, looked after, with Priya, Tom and Irene: `extra` overrides any field."""
    base = {
        "ref": "C-0042",
        "first_name": "Jay",
        "dob": "2011-05-02",
        "home": "oak",
        "legal_status": "looked_after",
        "social_worker": "priya",
        "team_manager": "tom",
        "iro": "iro1",
    }
    return base | extra


def rota(role: str, staff: str, start: str, end: str) -> dict[str, str]:
    return {"role": role, "staff": staff, "from": start, "to": end}


def weekend_rota(
    start: str = "2026-10-23T17:00", end: str = "2026-10-26T09:00"
) -> list[dict[str, str]]:
    return [
        rota("out_of_hours", "ooh1", start, end),
        rota("out_of_hours_manager", "oohm", start, end),
        rota("police_liaison", "pc1", start, end),
    ]


def team_file(
    *,
    staff: list[dict[str, Any]] | None = None,
    children: list[dict[str, Any]] | None = None,
    rota_rows: list[dict[str, Any]] | None = None,
) -> TeamFile:
    """The standard cast (STAFF, Jay, no rota) with whatever the test replaces."""
    return TeamFile.model_validate(
        {"staff": staff or STAFF, "children": children or [child()], "rota": rota_rows or []}
    )


def demo_team() -> TeamFile:
    """The demo team the product ships (config/demo/), as `whereabouts demo` imports it."""
    return load_team_file(demo_team_path())


async def seed_team(db: Database, team: TeamFile, *, area: str | None = DEFAULT_AREA) -> None:
    """Import the team as an admin's `whereabouts import` would (`area` None: each child's own)."""
    await import_team(db, team, default_area=area)
