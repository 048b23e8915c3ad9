"""The rota in the database: idempotent imports, covers over the schedule, leavers skipped,
every change on the audit trail and told to the people it moves."""

from __future__ import annotations

import aiosqlite
import pytest

from bot.admin import ImportError_, import_team
from config.team import TeamFile
from handlers import rota
from storage import rota_store, staff_store
from storage.db import Database, migrate
from tests.support.clock import LONDON, local
from tests.support.team import rota as row
from tests.support.team import seed_team, team_file, weekend_rota


async def _pending_to(db: Database, staff_id: str) -> list[str]:
    rows = await db.fetchall(
        "SELECT text FROM outbox WHERE recipient = ? ORDER BY id", (f"staff:{staff_id}",)
    )
    return [r["text"] for r in rows]


async def _count(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM rota")
    assert row is not None
    return int(row["n"])


async def test_the_same_file_twice_is_one_rota(db: Database) -> None:
    team = team_file(rota_rows=weekend_rota())
    await seed_team(db, team)
    await seed_team(db, team)
    assert await _count(db) == 3
    friday = local("2026-10-23 21:10")
    assert await rota_store.on_rota(db, "out_of_hours", friday) == ["ooh1"]


async def test_a_changed_file_updates_in_place_and_tells_who_it_moved(db: Database) -> None:
    await seed_team(db, team_file(rota_rows=weekend_rota()))
    changed = weekend_rota()
    changed[0] = row("out_of_hours", "ooh2", "2026-10-23T17:00", "2026-10-26T09:00")
    await import_team(db, team_file(rota_rows=changed), "west-yorkshire",
                      now=local("2026-10-23 12:00"))  # fmt: skip
    assert await _count(db) == 3
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-24 03:00")) == ["ooh2"]
    told = await _pending_to(db, "ooh1")
    assert len(told) == 1
    assert "no longer on out of hours, Fri 23 Oct 17:00 to Mon 26 Oct 09:00" in told[0]
    assert "Ola has it now" in told[0]
    trail = await rota_store.audit_trail(db)
    assert trail[0].action == "changed"  # newest first
    assert (trail[0].before_id, trail[0].staff_id) == ("ooh1", "ooh2")
    assert [e.action for e in trail[1:]] == ["added"] * 3


async def test_a_rota_only_file_imports_against_the_staff_in_the_database(db: Database) -> None:
    await seed_team(db, team_file())
    only = TeamFile.model_validate({"rota": weekend_rota()})
    await import_team(db, only, "west-yorkshire", source_file="rota.yaml")
    assert await rota_store.on_rota(db, "out_of_hours_manager", local("2026-10-24 01:00")) == [
        "oohm"
    ]


async def test_a_rota_row_naming_nobody_known_imports_nothing(db: Database) -> None:
    await seed_team(db, team_file())
    bad = TeamFile.model_validate(
        {"rota": [*weekend_rota(), row("out_of_hours", "nobody", "2026-10-23T17:00",
                                       "2026-10-24T09:00")]}
    )  # fmt: skip
    with pytest.raises(ImportError_, match=r"rota\.3\.staff: 'nobody'"):
        await import_team(db, bad, "west-yorkshire", source_file="rota.yaml")
    assert await _count(db) == 0


async def test_a_leaver_is_never_on_the_rota(db: Database) -> None:
    await seed_team(db, team_file(rota_rows=weekend_rota()))
    async with db.write() as tx:  # the record alone, shifts kept: on_rota itself skips leavers
        assert await staff_store.mark_left(tx, "ooh1", local("2026-10-23 12:00"), "tom", None)
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-24 03:00")) == []


async def test_a_cover_replaces_the_scheduled_person_for_exactly_its_span(db: Database) -> None:
    await seed_team(db, team_file(rota_rows=weekend_rota()))
    start, end = local("2026-10-24 20:00"), local("2026-10-25 08:00")
    async with db.write() as tx:
        change = await rota.add_cover(
            tx, "out_of_hours", "ooh2", start, end, now=local("2026-10-24 12:00"),
            zone=LONDON, actor="oohm", source="chat",
        )  # fmt: skip
    assert change.displaced == ["ooh1"]
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-24 19:59")) == ["ooh1"]
    assert await rota_store.on_rota(db, "out_of_hours", start) == ["ooh2"]
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-25 07:59")) == ["ooh2"]
    assert await rota_store.on_rota(db, "out_of_hours", end) == ["ooh1"]
    told = await _pending_to(db, "ooh1")
    assert len(told) == 1 and "Ola has it now" in told[0] and "cover by Morgan" in told[0]
    assert (await rota_store.audit_trail(db))[0].action == "cover"


async def test_a_cover_ending_before_it_starts_is_refused(db: Database) -> None:
    await seed_team(db, team_file(rota_rows=weekend_rota()))
    with pytest.raises(rota.RotaError, match="end after it starts"):
        async with db.write() as tx:
            await rota.add_cover(
                tx, "out_of_hours", "ooh2", local("2026-10-25 08:00"), local("2026-10-24 20:00"),
                now=local("2026-10-24 12:00"), zone=LONDON, actor=None, source="cli",
            )  # fmt: skip
    assert await _count(db) == 3


async def test_removing_a_shift_tells_its_person_and_is_audited(db: Database) -> None:
    await seed_team(db, team_file(rota_rows=weekend_rota()))
    shifts = await rota_store.shifts_between(
        db, local("2026-10-23 00:00"), local("2026-10-27 00:00"), role="police_liaison"
    )
    async with db.write() as tx:
        await rota.remove(tx, shifts[0].id, now=local("2026-10-23 12:00"), zone=LONDON, actor=None)
    assert await rota_store.on_rota(db, "police_liaison", local("2026-10-24 03:00")) == []
    assert "removed by the command line" in (await _pending_to(db, "pc1"))[0]
    assert (await rota_store.audit_trail(db))[0].action == "removed"


async def test_two_people_on_one_role_at_once_are_two_shifts(db: Database) -> None:
    both = [*weekend_rota(), row("out_of_hours", "ooh2", "2026-10-23T17:00", "2026-10-26T09:00")]
    await seed_team(db, team_file(rota_rows=both))
    await seed_team(db, team_file(rota_rows=both))
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-24 03:00")) == [
        "ooh1",
        "ooh2",
    ]
    assert await _count(db) == 4


async def test_upgrade_makes_repeated_imports_one_and_keys_them_as_an_import_would(tmp_path):
    path = tmp_path / "v11.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, up_to=11)
        await conn.execute(
            "INSERT INTO staff (id, name, role) VALUES ('ooh1', 'Olu', 'out_of_hours')"
        )
        for _ in range(2):  # the same file imported twice before this version
            await conn.execute(
                "INSERT INTO rota (role, staff_id, starts_at, ends_at) VALUES"
                " ('out_of_hours', 'ooh1', '2026-10-23T16:00:00Z', '2026-10-26T09:00:00Z')"
            )
    async with Database(path) as db:
        assert await _count(db) == 1
        await seed_team(db, team_file(rota_rows=weekend_rota()))
        assert await _count(db) == 3  # the upgraded row is the file's shift, not a second one
