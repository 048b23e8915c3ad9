"""The console's demo team comes with a rota, so a report typed there at night reaches someone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.admin import DEMO_ROTA_DAYS, import_team, seed_demo_rota
from bot.cli import demo_team_path
from config.team import load_team_file
from storage import rota_store
from storage.db import Database
from tests.support.clock import LONDON, local


async def test_the_demo_team_is_on_the_rota_for_two_weeks_from_today(tmp_path: Path) -> None:
    friday_night = local("2026-10-23 21:10")
    team = load_team_file(demo_team_path())
    async with Database(tmp_path / "demo.db") as db:
        await import_team(db, team, "west-yorkshire")
        assert await seed_demo_rota(db, team, friday_night, LONDON) == 3
        assert await rota_store.on_rota(db, "out_of_hours", friday_night) == ["ooh1"]
        assert await rota_store.on_rota(db, "out_of_hours_manager", friday_night) == ["oohm"]
        assert await rota_store.on_rota(db, "police_liaison", friday_night) == ["pc1"]
        # from the start of that day, for exactly two weeks (across the clock change)
        start = local("2026-10-23 00:00")
        assert await rota_store.on_rota(db, "out_of_hours", start) == ["ooh1"]
        last = start + timedelta(days=DEMO_ROTA_DAYS) - timedelta(minutes=1)
        assert await rota_store.on_rota(db, "out_of_hours", last) == ["ooh1"]
        assert await rota_store.on_rota(db, "out_of_hours", last + timedelta(minutes=2)) == []
