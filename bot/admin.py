"""Admin jobs: load staff and children from a data file."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from config.presets import load_preset
from config.settings import DISPLAY_TIMEZONE
from config.team import TeamFile
from storage import child_store, rota_store, staff_store
from storage.db import Database
from storage.models import Child, Staff


class ImportError_(ValueError):
    pass


async def import_team(
    db: Database, team: TeamFile, default_area: str | None = None
) -> tuple[int, int]:
    """Write every staff member and child in one transaction: all of the file or none of it."""
    async with db.write() as tx:
        for spec in team.staff:  # managers may come later in the file: link them in a second pass
            await staff_store.upsert_staff(
                tx, Staff(spec.id, spec.display_name, spec.role, spec.home, spec.team, None)
            )
        for spec in team.staff:
            if spec.manager:
                await staff_store.upsert_staff(
                    tx,
                    Staff(
                        spec.id, spec.display_name, spec.role, spec.home, spec.team, spec.manager
                    ),
                )
        for c in team.children:
            area = c.area or default_area
            if area is None:
                raise ImportError_(f"child {c.ref}: no area given and no default area")
            await child_store.upsert_child(
                tx,
                Child(
                    id=0,
                    ref=c.ref,
                    first_name=c.first_name,
                    full_name=c.full_name,
                    dob=c.dob,
                    home=c.home,
                    area=area,
                    legal_status=c.legal_status,
                    home_authority=c.home_authority,
                    social_worker_id=c.social_worker,
                    team_manager_id=c.team_manager,
                    iro_id=c.iro,
                    profile=dict(c.profile),
                ),
            )
        # Rota times without a zone are local to the default area (the display zone otherwise).
        tz = load_preset(default_area).zone if default_area else ZoneInfo(DISPLAY_TIMEZONE)
        for r in team.rota:
            await rota_store.add_rota(
                tx, str(r.role), r.staff, _aware(r.from_, tz), _aware(r.to, tz)
            )
    return len(team.staff), len(team.children)


def _aware(when: datetime, tz: ZoneInfo) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=tz)
