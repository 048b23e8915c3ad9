"""Rough edges a newcomer hit following the README (issue 19): each refusal says what to do,
nothing is half done, and nothing warns of what never happened."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from bot.cli import demo_team_path, main
from bot.telegram.app import TelegramPlatform
from config.team import load_team_file
from config.yamlfile import DataFileError
from storage import report_store
from tests.support.clock import local
from tests.test_reports import open_harness

SCENARIO = (
    "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T02:00\n"
    "staff: [{id: sam, name: Sam, role: carer, home: oak-house}, {id: priya, role: social_worker}]\n"
    "children: [{ref: C-0042, first_name: Jay, dob: 2011-05-02, home: oak-house,"
    " social_worker: priya}]\n"
    "steps:\n"
    "  - {at: 2026-10-23T21:10, as: sam, say: '/absent C-0042 21:05 left after a row'}\n"
    "  - {at: 2026-10-23T21:20, as: sam, say: '/absnet C-0042 typo'}\n"
)


@pytest.fixture
def db(tmp_path, capsys):
    path = tmp_path / "w.db"
    assert main(["import", str(demo_team_path()), "--db", str(path)]) == 0
    capsys.readouterr()
    return path


# ---- reports that fell due before the database existed -------------------------------


def test_the_demo_warns_of_no_report_skipped(caplog, capsys):
    """A scenario (or a new database) has nothing missed before its start: no "report weekly
    … skipped: 1 day, 3:00:00 late" warning, stamped with the real date."""
    caplog.set_level(logging.INFO)
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert not [
        r for r in caplog.records if r.levelno >= logging.WARNING and "skipped" in r.getMessage()
    ]


async def test_a_report_missed_while_the_bot_was_down_still_warns(tmp_path, caplog):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"))
    await h.until(local("2026-11-09 09:00"))  # the daily ran at 08:30: the bot has been up
    runs = await report_store.runs_of(h.db, "daily:west-yorkshire")
    await h.close()
    assert runs
    caplog.set_level(logging.WARNING)
    again = await open_harness(tmp_path, local("2026-11-11 21:00"))  # 08:30 is 12.5 h stale
    await again.until(local("2026-11-11 21:01"))
    await again.close()
    assert any("skipped" in r.getMessage() for r in caplog.records)


# ---- simulate --db, --strict ------------------------------------------------------------


def test_simulate_keeps_its_database_and_strict_names_a_refused_step(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    kept = tmp_path / "kept.db"
    assert main(["simulate", str(scenario), "--db", str(kept)]) == 0  # a refusal is not an error
    assert main(["list", "children", "--db", str(kept)]) == 0
    assert "C-0042" in capsys.readouterr().out
    assert main(["simulate", str(scenario), "--db", str(kept)]) == 2, "never over a database"
    assert "exists" in capsys.readouterr().err
    assert main(["simulate", str(scenario), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "1 step(s) refused" in err and "step 2 (sam: /absnet C-0042 typo)" in err


# ---- export -------------------------------------------------------------------------------


def test_export_refuses_reversed_dates_and_an_existing_export_without_force(db, tmp_path, capsys):
    out = tmp_path / "q"
    base = ["export", "--db", str(db), "--as", "tom", "--out", str(out)]
    assert main([*base, "--from", "2026-09-30", "--to", "2026-07-01"]) == 2
    assert "is before --from" in capsys.readouterr().err and not out.exists()
    assert main([*base, "--from", "01/07/2026", "--to", "30/09/2026"]) == 0  # day first too
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main([*base, "--from", "2026-01-01", "--to", "2026-01-02"]) == 2
    assert "already holds an export" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main([*base, "--from", "2026-01-01", "--to", "2026-01-02", "--force"]) == 0
    assert main([*base, "--from", "31/02/2026", "--to", "2026-03-01", "--force"]) == 2
    assert "write it 2026-11-01 or 01/11/2026" in capsys.readouterr().err


# ---- a database that is not there ---------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["list", "children"], ["export", "--as", "tom", "--ssda903", "2027"], ["backup", "b.db"],
     ["staff", "leave", "sam"], ["invite", "--staff", "sam"], ["rota", "list"], ["run"]],
)  # fmt: skip
def test_commands_that_read_a_database_refuse_a_missing_one_naming_it(tmp_path, capsys, argv):
    missing = tmp_path / "whereabouts.db"
    assert main([argv[0], *argv[1:], "--db", str(missing)]) == 2
    assert f"no database at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_backup_is_one_self_contained_file(db, tmp_path, capsys):
    copy = tmp_path / "backups" / "w-copy.db"
    assert main(["backup", str(copy), "--db", str(db)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in copy.parent.iterdir()) == ["w-copy.db"]
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT COUNT(*) FROM staff").fetchone()[0] > 0
    assert sorted(p.name for p in copy.parent.iterdir()) == ["w-copy.db"]


# ---- Telegram unreachable ---------------------------------------------------------------------


async def test_telegram_unreachable_leaves_no_client_session_open(tmp_path):
    """`run` with Telegram unreachable: a clear error, and no "Unclosed client session"."""
    from handlers.context import Services
    from storage.db import Database

    async with Database(tmp_path / "w.db") as database:
        platform = TelegramPlatform(
            Services(db=database), "123:abc", base_url="http://127.0.0.1:9/bot"
        )
        with pytest.raises(Exception, match="127.0.0.1"):
            await platform.start()
        assert all(r._session is None or r._session.closed for r in platform._requests)


# ---- error texts a person reads -------------------------------------------------------------


def team_with(tmp_path, staff_id: str = "sam", dob: str = "2011-05-02"):
    path = tmp_path / "team.yaml"
    path.write_text(
        f"staff: [{{id: '{staff_id}', role: carer, home: oak}}]\n"
        f"children: [{{ref: C-0042, first_name: Jay, dob: '{dob}', home: oak}}]\n"
    )
    return path


def test_a_bad_staff_id_says_what_an_id_may_contain(tmp_path):
    with pytest.raises(DataFileError) as caught:
        load_team_file(team_with(tmp_path, staff_id="Sam Carter"))
    text = str(caught.value)
    assert "String should match pattern" not in text
    assert "lower-case letters, digits" in text and "team.yaml:1" in text


def test_a_dob_in_uk_form_is_read_day_first_and_a_bad_one_says_which_forms(tmp_path):
    team = load_team_file(team_with(tmp_path, dob="02/05/2011"))
    assert team.children[0].dob.isoformat() == "2011-05-02"
    with pytest.raises(DataFileError, match="write it 2026-11-01 or 01/11/2026"):
        load_team_file(team_with(tmp_path, dob="2011/13/40"))
