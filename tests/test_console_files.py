"""The console transport: a file the bot sends is saved where the console says."""

from __future__ import annotations

from bot.console import ConsoleTransport
from handlers.context import Services
from reminders.clock import FakeClock
from storage.db import Database
from tests.support.clock import local
from tests.support.team import demo_team, seed_team


async def test_a_chart_is_saved_and_its_path_printed(tmp_path):
    lines: list[str] = []
    async with Database(tmp_path / "w.db") as db:
        await seed_team(db, demo_team())
        svc = Services(db=db, clock=FakeClock(local("2026-11-09 10:00")))
        console = ConsoleTransport(svc, out=lines.append, files_dir=tmp_path / "files")
        await console.say("tom", "/chart")
    saved = list((tmp_path / "files").glob("episodes-*.png"))
    assert len(saved) == 1 and saved[0].read_bytes().startswith(b"\x89PNG")
    assert any(f"(file saved: {saved[0]})" in line for line in lines)
