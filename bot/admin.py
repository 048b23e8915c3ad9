"""Admin jobs: load staff and children from a data file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from config.presets import load_all_presets, load_preset
from config.settings import DISPLAY_TIMEZONE
from config.team import StaffSpec, TeamFile
from handlers import rota
from reminders import leavers, routing
from reminders.leavers import Handover
from storage import child_store, staff_store
from storage.db import Database, Tx
from storage.models import Child, Staff


class ImportError_(ValueError):
    pass


@dataclass
class StaffReport:
    """What an import did to who is active, and who it did not mention."""

    not_in_file: list[str] = field(default_factory=list)  # active here, absent from the file
    left: list[str] = field(default_factory=list)  # `active: false` for someone active
    back: list[str] = field(default_factory=list)  # `active: true` for a leaver
    handovers: list[Handover] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Left (the file says active: false): {', '.join(self.left)}"] if self.left else []
        if self.back:
            out.append(f"Active again (the file says active: true): {', '.join(self.back)}")
        if self.not_in_file:
            out.append(
                f"In the database but not in the file, left active: {', '.join(self.not_in_file)}."
                " If they have left: whereabouts staff leave <id>"
            )
        return out


async def import_team(
    db: Database,
    team: TeamFile,
    default_area: str | None = None,
    *,
    report: StaffReport | None = None,
    source_file: str = rota.TEAM_FILE,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Write every staff member and child in one transaction: all of the file or none of it.

    An import never changes who is active unless the file says so (`active`): a leaver it
    omits stays left, and someone it omits stays active and is listed in `report`."""
    report = report if report is not None else StaffReport()
    now = now or datetime.now(UTC)
    async with db.write() as tx:
        before = {s.id: s for s in await staff_store.list_staff(tx)}
        report.not_in_file = sorted(
            i for i, s in before.items() if s.active and i not in {x.id for x in team.staff}
        )
        for spec in team.staff:  # managers may come later in the file: link them in a second pass
            await staff_store.upsert_staff(tx, _staff(spec, None))
        for spec in team.staff:
            if spec.manager:
                await staff_store.upsert_staff(tx, _staff(spec, spec.manager))
        for spec in team.staff:
            known = before.get(spec.id)
            if spec.active is True and known is not None and not known.active:
                await staff_store.reactivate(tx, spec.id)
                report.back.append(spec.id)
            elif spec.active is False and (known is None or known.active):
                report.handovers.append(
                    await leavers.leave(
                        tx, load_all_presets(), ZoneInfo(DISPLAY_TIMEZONE), now, spec.id,
                        None, "the team file says active: false",
                    )
                )  # fmt: skip
                report.left.append(spec.id)
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
                    cp_chair_id=c.cp_chair,
                    placement_type=c.placement_type,
                    no_parent_contact=c.no_parent_contact,
                    family=c.family,
                    home_authority_email=c.home_authority_email,
                ),
            )
        await _import_rota(tx, team, default_area, source_file, now)
    return len(team.staff), len(team.children)


async def _import_rota(
    tx: Tx, team: TeamFile, default_area: str | None, source_file: str, now: datetime | None
) -> None:
    """The file's rota, idempotently (handlers/rota.py); a person only in the database is
    checked there, and a row naming nobody known is refused with its place in the file."""
    for number, staff_id in team.rota_staff_elsewhere():
        if await staff_store.get_staff(tx, staff_id) is None:
            raise ImportError_(
                f"rota.{number}.staff: {staff_id!r} is neither in the file's staff nor in the "
                "database. Add them to staff, or import the staff first."
            )
    if not team.rota:
        return  # a file without a rota leaves the rota as it is
    # Rota times without a zone are local to the default area (the display zone otherwise).
    tz = load_preset(default_area).zone if default_area else ZoneInfo(DISPLAY_TIMEZONE)
    rows = rota.table_keys(
        [
            (str(r.role), r.staff, _aware(r.from_, tz), _aware(r.to, tz), f"rota.{number}")
            for number, r in enumerate(team.rota)
        ]
    )
    when = now or datetime.now(UTC)
    try:
        await rota.apply_import(tx, rows, source_file=source_file, now=when, zone=tz)
    except rota.RotaError as exc:
        raise ImportError_(str(exc)) from exc


def _staff(spec: StaffSpec, manager: str | None) -> Staff:
    return Staff(
        spec.id, spec.display_name, spec.role, spec.home, spec.team, manager,
        email=spec.email, phone=spec.phone,
    )  # fmt: skip


def _aware(when: datetime, tz: ZoneInfo) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=tz)


DEMO_ROTA_DAYS = 14


async def seed_demo_rota(db: Database, team: TeamFile, now: datetime, zone: ZoneInfo) -> int:
    """Put the demo team's rota people (out of hours, their manager, the police liaison) on
    their roles from the start of today for two weeks, so a report typed in the console reaches
    someone at any hour. Returns the number of shifts."""
    start = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
    end = start + timedelta(days=DEMO_ROTA_DAYS)
    people = [s for s in team.staff if s.role.value in routing.ROTA_ROLES]
    async with db.write() as tx:
        for person in people:
            await rota.add_scheduled(
                tx, person.role.value, person.id, start, end, now=now, actor=None, source="demo"
            )
    return len(people)
