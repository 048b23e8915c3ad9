"""Data safety: owner-only files, online backup while writing, the integrity check."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.cli import main
from storage import maintenance
from tests.support.clock import local
from tests.support.harness import Harness


async def test_the_database_is_readable_by_its_owner_only(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")  # WAL files now exist too
    for path in tmp_path.glob("w.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    await h.close()


async def test_a_backup_taken_while_the_bot_writes_is_consistent(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")
    async with h.db.write() as tx:  # a write in progress while the copy is taken
        await tx.execute("UPDATE staff SET name = name WHERE id = 'sam'")
        await maintenance.backup(tmp_path / "w.db", tmp_path / "copy.db")
    health = await maintenance.check(tmp_path / "copy.db")
    assert health.ok and health.episodes == 1 and health.open_episodes == 1
    assert stat.S_IMODE((tmp_path / "copy.db").stat().st_mode) == 0o600
    await h.close()


def test_backup_and_check_commands(tmp_path, capsys):
    db = str(tmp_path / "w.db")
    assert main(["init-db", "--db", db]) == 0
    assert main(["backup", str(tmp_path / "b.db"), "--db", db]) == 0
    assert "integrity ok" in capsys.readouterr().out
    assert main(["backup", str(tmp_path / "b.db"), "--db", db]) == 2, "never overwrites"
    assert main(["check", "--db", db]) == 0
    out = capsys.readouterr().out
    migrations = (Path(__file__).parents[1] / "storage" / "migrations").glob("*.sql")
    latest = max(int(p.name[:4]) for p in migrations)  # numbered, not counted: numbers may skip
    assert f"integrity ok; schema version {latest}" in out
    assert main(["check", "--db", str(tmp_path / "none.db")]) == 2
