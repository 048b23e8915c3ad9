"""The console transport: a file the bot sends is saved where the console says."""

from __future__ import annotations

from bot.admin import import_team
from bot.cli import demo_team_path
from bot.console import ConsoleTransport
from config.team import load_team_file
from handlers.context import Services
from reminders.clock import FakeClock
from storage.db import Database
from tests.conftest import local


async def test_a_chart_is_saved_and_its_path_printed(tmp_path):
    lines: list[str] = []
    async with Database(tmp_path / "w.db") as db:
        await import_team(db, load_team_file(demo_team_path()), default_area="west-yorkshire")
        svc = Services(db=db, clock=FakeClock(local("2026-11-09 10:00")))
        console = ConsoleTransport(svc, out=lines.append, files_dir=tmp_path / "files")
        await console.say("tom", "/chart")
    saved = list((tmp_path / "files").glob("episodes-*.png"))
    assert len(saved) == 1 and saved[0].read_bytes().startswith(b"\x89PNG")
    assert any(f"(file saved: {saved[0]})" in line for line in lines)
