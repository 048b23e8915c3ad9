"""Bad files get a clear refusal, never a traceback: a damaged or unwritable database, a data
file that is not UTF-8 or uses YAML's duplicate keys, aliases or an oversized profile, and a
setting that can't be used (storage/db.py, config/yamlfile.py, bot/cli.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.cli import demo_team_path, main
from config.team import PROFILE_LIMIT, load_team_file
from config.yamlfile import DataFileError
from storage.db import Database, DatabaseUnusable, unusable

TEAM = (
    "staff:\n"
    "  - {id: sam, name: Sam, role: carer, home: oak-house}\n"
    "children:\n"
    "  - ref: C-0042\n"
    "    first_name: Jay\n"
    "    home: oak-house\n"
)


def no_traceback(capsys) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return out.err


def imported(tmp_path: Path) -> Path:
    db = tmp_path / "w.db"
    assert main(["import", str(demo_team_path()), "--db", str(db)]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


# ---- the database (item 8) -------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path, capsys):
    """Item 8: a corrupt database: `list` and `check` say so and how to recover; no traceback."""
    db = tmp_path / "w.db"
    db.write_bytes(b"this is not SQLite " * 200)
    assert main(["list", "staff", "--db", str(db)]) == 1
    err = no_traceback(capsys)
    assert f"{db} is damaged or not a Whereabouts database" in err and "backup" in err
    assert main(["run", "--db", str(db)]) == 1  # the live bot too, before any platform
    assert "is damaged" in no_traceback(capsys)
    assert main(["check", "--db", str(db)]) == 1
    out = capsys.readouterr()
    assert "damaged" in out.out and "Traceback" not in out.err


def test_damaged_pages_are_found_at_start_up(tmp_path, capsys):
    """Item 8: a database whose pages are damaged no longer opens normally: the quick check
    at start-up refuses it, naming the file."""
    db = imported(tmp_path)
    with sqlite3.connect(db) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'staff'").fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    data = bytearray(db.read_bytes())
    start = (root - 1) * size
    data[start + 100 : start + size] = b"\xff" * (size - 100)
    db.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["list", "staff", "--db", str(db)]) == 1
    assert "is damaged" in no_traceback(capsys)


async def test_the_quick_check_refuses_before_anything_is_written(tmp_path):
    db = tmp_path / "w.db"
    db.write_bytes(b"\0" * 50 + b"garbage" * 100)
    before = db.read_bytes()
    with pytest.raises(DatabaseUnusable):
        await Database(db).open()
    assert db.read_bytes() == before


def test_a_read_only_database_says_what_to_check(tmp_path):
    """Item 8: read-only (tests run as root, whom permissions don't stop: the refusal SQLite
    gives is translated)."""
    db = tmp_path / "w.db"
    message = str(unusable(db, sqlite3.OperationalError("attempt to write a readonly database")))
    assert f"{db} can't be written" in message and "permissions" in message
    assert "w.db-wal" in message


def test_an_unusable_synchronous_setting_names_the_variable(tmp_path, capsys, monkeypatch):
    """Item 8: WHEREABOUTS_SYNCHRONOUS=off: one line naming the variable and its choices."""
    monkeypatch.setenv("WHEREABOUTS_SYNCHRONOUS", "off")
    assert main(["list", "staff", "--db", str(tmp_path / "w.db")]) == 2
    err = no_traceback(capsys)
    assert "WHEREABOUTS_SYNCHRONOUS=off" in err and "FULL" in err
    assert len(err.strip().splitlines()) == 1


# ---- data files (items 8, 9) -----------------------------------------------------------


def test_a_team_file_that_is_not_utf8_exits_2_naming_the_line(tmp_path, capsys):
    """Item 8: a team file saved as Windows-1252 names the line of the first bad byte."""
    team = tmp_path / "team.yaml"
    team.write_bytes(TEAM.replace("first_name: Jay", "first_name: Zoë").encode("cp1252"))
    assert main(["import", str(team), "--db", str(tmp_path / "w.db")]) == 2
    err = no_traceback(capsys)
    assert f"{team}:5:" in err and "UTF-8" in err


def test_a_scenario_that_is_not_utf8_exits_2_naming_the_line(tmp_path, capsys):
    """Item 8: the same for `simulate`."""
    scenario = tmp_path / "s.yaml"
    scenario.write_bytes(
        "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T00:00\n"
        "staff: [{id: sam, name: Ren\xe9e, role: carer}]\n".encode("latin-1")
    )
    assert main(["simulate", str(scenario)]) == 2
    err = no_traceback(capsys)
    assert f"{scenario}:4:" in err and "UTF-8" in err


def test_a_key_given_twice_is_refused_at_its_line(tmp_path):
    """Item 9: a duplicate key (YAML keeps the last: the child would move home silently)."""
    team = tmp_path / "team.yaml"
    team.write_text(TEAM + "    home: elm-house\n")
    with pytest.raises(DataFileError, match=r"team\.yaml:7: 'home' is given twice"):
        load_team_file(team)


def test_aliases_are_refused_before_they_expand(tmp_path):
    """Item 9: an alias bomb in a profile (575 bytes became a 317 MB row) is refused at the
    line of its first anchor, before anything is built."""
    bomb = ["    profile:", '      a: &a ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]']
    for n in range(1, 12):
        prev = chr(ord("a") + n - 1)
        bomb.append(
            f"      {chr(ord('a') + n)}: &{chr(ord('a') + n)} [{', '.join([f'*{prev}'] * 9)}]"
        )
    team = tmp_path / "team.yaml"
    team.write_text(TEAM + "\n".join(bomb) + "\n")
    assert len(team.read_bytes()) < 1000
    with pytest.raises(DataFileError, match=r"team\.yaml:8: YAML anchors and aliases"):
        load_team_file(team)


def test_an_oversized_profile_is_refused_at_its_line(tmp_path):
    """Item 9: a profile over PROFILE_LIMIT characters is refused naming the child's line."""
    team = tmp_path / "team.yaml"
    team.write_text(TEAM + f"    profile: {{description: {'x' * (PROFILE_LIMIT + 1)}}}\n")
    with pytest.raises(DataFileError, match=r"team\.yaml:7: children\.0\.profile: .*at most"):
        load_team_file(team)
